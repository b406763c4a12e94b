/* check_district.c: the --districts file (district.c), each refusal naming its JSON path, and
 * the API key file's optional 4th field, the district a key is tied to (keys.c). */
#include "district.h"
#include "keys.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_CATALOG WHISTLE_SOURCE_DIR "/tests/data/catalog-small.json"
#define S_SVC(x)                                                                                   \
    "\"intake\": {\"api\": \"ipc://" x "/i\"}, \"routing\": {\"api\": \"ipc://" x "/r\"}, "        \
    "\"tracking\": {\"api\": \"ipc://" x "/t\"}, "                                                 \
    "\"notification\": {\"api\": \"ipc://" x "/n\", \"events\": \"ipc://" x "/e\"}"

/* One district file and what it must give: 0 and how many districts, or the path named. */
static const struct {
    const char *json;
    size_t n;          /* districts when taken */
    const char *named; /* a part of the error when refused */
} s_files[] = {
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG
     "\", " S_SVC("a") "}]}",
     1, NULL},
    {"{\"districts\": []}", 0, "districts: required"},
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG
     "\", " S_SVC("a") "}], \"more\": 1}",
     0, "districts: required, the only member"},
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG
     "\", \"intake\": {\"api\": \"ipc://a/i\"}}]}",
     0, "districts[0].routing.api: required"},
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG "\", " S_SVC(
         "a") "}, {\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG "\", " S_SVC("b") "}]}",
     0, "districts[1].code: 'testdistrict' is districts[0]'s too"},
    {"{\"districts\": [{\"code\": \"east\", \"catalog\": \"" S_CATALOG "\", " S_SVC("a") "}]}", 0,
     "districts[0].code: 'east', but its catalog"},
    {"{\"districts\": [{\"code\": \"Bad Code\", \"catalog\": \"" S_CATALOG "\", " S_SVC("a") "}]}",
     0, "districts[0].code: required"},
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"nowhere.json\", " S_SVC(
         "a") "}]}",
     0, "districts[0].catalog:"},
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG
     "\", " S_SVC("a") ", \"gateway\": {}}]}",
     0, "districts[0].gateway: unknown member"},
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG
     "\", " S_SVC("a") ", \"tracking\": {\"api\": 7}}]}",
     0, "duplicate object key"}, /* a member given twice: the file is refused */
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG
     "\", \"intake\": {\"api\": \"ipc://a/i\"}, \"routing\": {\"api\": \"ipc://a/r\"}, "
     "\"tracking\": {\"api\": 7}, \"notification\": {\"api\": \"ipc://a/n\"}}]}",
     0, "districts[0].tracking.api: an endpoint string"},
    {"{\"districts\": [{\"code\": \"testdistrict\", \"catalog\": \"" S_CATALOG
     "\", \"intake\": {\"api\": \"ipc://a/i\"}, \"routing\": {\"api\": \"ipc://a/r\"}, "
     "\"tracking\": {\"api\": \"ipc://a/t\"}, \"notification\": {\"api\": \"ipc://a/n\"}}]}",
     0, "districts[0].notification.events: required"},
};

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(files)
{
    char path[] = "/tmp/check-district-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    s_write(path, s_files[_i].json);
    struct gw_district_conf *d = NULL;
    size_t n = 99;
    char err[512] = "";
    int rc = gateway_districts_load(path, &d, &n, err, sizeof err);
    unlink(path);
    if (!s_files[_i].named) {
        ck_assert_msg(rc == 0, "file %d refused: %s", _i, err);
        ck_assert_uint_eq(n, s_files[_i].n);
        ck_assert_str_eq(d[0].code, "testdistrict");
        ck_assert_str_eq(d[0].api[2], "ipc://a/t");
        ck_assert_str_eq(d[0].events[3], "ipc://a/e");
        ck_assert_ptr_null(d[0].events[0]);
        gateway_districts_free(d, n);
        return;
    }
    ck_assert_msg(rc != 0, "file %d taken", _i);
    ck_assert_ptr_null(d);
    ck_assert_uint_eq(n, 0);
    ck_assert_msg(strstr(err, s_files[_i].named) != NULL, "file %d: '%s' does not name '%s'", _i,
                  err, s_files[_i].named);
}
END_TEST

START_TEST(key_district)
{
    char path[] = "/tmp/check-district-keys-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    s_write(path, "city-operator-key-0123456789 operator city\n"
                  "east-cg-key-0123456789abcd department cg east # 城管 of east\n"
                  "west-cg-key-0123456789abcd department cg # no district\n");
    struct gw_key *keys = NULL;
    size_t n = 0;
    char err[512] = "";
    ck_assert_msg(gateway_keys_parse(path, &keys, &n, err, sizeof err) == 0, "%s", err);
    ck_assert_uint_eq(n, 3);
    ck_assert_str_eq(keys[0].district, "");
    ck_assert_str_eq(keys[1].district, "east");
    ck_assert_str_eq(keys[1].who.code, "cg");
    ck_assert_str_eq(keys[2].district, "");
    free(keys);
    s_write(path, "east-cg-key-0123456789abcd department cg East\n");
    ck_assert_int_eq(gateway_keys_parse(path, &keys, &n, err, sizeof err), WH_EFIELD);
    ck_assert_msg(strstr(err, "<district>") != NULL, "%s", err);
    s_write(path, "east-cg-key-0123456789abcd department cg east extra\n");
    ck_assert_int_eq(gateway_keys_parse(path, &keys, &n, err, sizeof err), WH_EFIELD);
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("district");
    TCase *tc = tcase_create("district");
    tcase_add_loop_test(tc, files, 0, (int)(sizeof s_files / sizeof s_files[0]));
    tcase_add_test(tc, key_district);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
