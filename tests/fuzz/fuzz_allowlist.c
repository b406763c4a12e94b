/* fuzz_allowlist.c: the allowlist parser (wh_allowlist_load in common/src/auth.c) on any
 * bytes, written as the allowlist file. An accepted list holds only what a line may say:
 * 40-character keys listed once, known kinds, codes a ZAP User-Id can carry. The same bytes
 * are then read as a key file (wh_keypair_load), the other file auth.c parses. */
#include "fuzz.h"
#include "whistle/auth.h"
#include "whistle/codec.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    wh_fuzz_log("fuzz");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    struct wh_allow_entry *arr = NULL;
    size_t n = 0;
    const char *path = wh_fuzz_file("allow.txt", data, size);
    int rc = wh_allowlist_load(path, &arr, &n, err, sizeof err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++) {
            if (strlen(arr[i].key) != WH_Z85_KEY - 1) abort();
            if (!wh_code_valid(arr[i].who.code)) abort();
            for (size_t j = 0; j < i; j++)
                if (strcmp(arr[i].key, arr[j].key) == 0) abort();
            /* what the ZAP handler makes of the entry parses back to the same identity */
            char user[64];
            struct wh_identity back;
            snprintf(user, sizeof user, "%s:%s", wh_kind_name(arr[i].who.kind), arr[i].who.code);
            if (wh_identity_parse(user, &back) != 0 || back.kind != arr[i].who.kind ||
                strcmp(back.code, arr[i].who.code) != 0)
                abort();
        }
    } else if (!err[0]) {
        abort(); /* a refusal always says why */
    }
    free(arr);
    /* key files are read with the same habits; the same bytes as one */
    struct wh_keypair kp;
    for (int need_secret = 0; need_secret < 2; need_secret++) {
        err[0] = 0;
        rc = wh_keypair_load(path, need_secret, &kp, err, sizeof err);
        if (rc == 0 && strlen(kp.public_key) != WH_Z85_KEY - 1) abort();
        if (rc != 0 && !err[0]) abort();
    }
    return 0;
}
