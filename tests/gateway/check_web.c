/* check_web.c: the dashboard's file names and types (web.c), and the event streams' one-time
 * tickets (ticket.c): one use each, expiry, the key they stand for, a full table. */
#include "ticket.h"
#include "web.h"
#include "wh_test.h"
#include "whistle/error.h"
#include <check.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int ok;
} s_names[] = {
    {"index.html", 1},
    {"app.js", 1},
    {"style.css", 1},
    {"uPlot-1.6.32.iife.min.js", 1},
    {"uPlot-1.6.32.LICENSE.txt", 1},
    {"logo.svg", 1},
    {"favicon.ico", 1},
    {"", 0},
    {".htaccess", 0},
    {".secret.txt", 0},
    {"..", 0},
    {"app.js~", 0},
    {"app", 0},
    {"index.php", 0},
    {"a b.js", 0},
    {"a%2F.js", 0},
    {"a/b.js", 0},
    {"a\\b.js", 0},
    {"\xe5\x8d\x97.html", 0},
    {".js", 0},
    {"app.JS", 0},
};

START_TEST(names)
{
    ck_assert_msg(gateway_web_name_ok(s_names[_i].name) == s_names[_i].ok, "%s: want %d",
                  s_names[_i].name, s_names[_i].ok);
}
END_TEST

START_TEST(types)
{
    ck_assert_str_eq(gateway_web_type("index.html"), "text/html; charset=utf-8");
    ck_assert_str_eq(gateway_web_type("a.min.js"), "text/javascript; charset=utf-8");
    ck_assert_str_eq(gateway_web_type("a.css"), "text/css; charset=utf-8");
    ck_assert_ptr_null(gateway_web_type("a.exe"));
}
END_TEST

START_TEST(tickets)
{
    gw_tickets_t *t = gateway_tickets_new();
    ck_assert_ptr_nonnull(t);
    char a[GW_TICKET_LEN + 1], b[GW_TICKET_LEN + 1], key[200];
    ck_assert_int_eq(gateway_tickets_issue(t, "key-of-cg-0123456789", 1000, a), 0);
    ck_assert_int_eq(gateway_tickets_issue(t, "key-of-ops-012345678", 1000, b), 0);
    ck_assert_int_eq((int)strlen(a), GW_TICKET_LEN);
    ck_assert_str_ne(a, b);
    /* one use each, standing for its own key */
    ck_assert_int_eq(gateway_tickets_redeem(t, b, 2000, key, sizeof key), 1);
    ck_assert_str_eq(key, "key-of-ops-012345678");
    ck_assert_int_eq(gateway_tickets_redeem(t, b, 2000, key, sizeof key), 0);
    /* expired: refused, and spent */
    ck_assert_int_eq(gateway_tickets_redeem(t, a, 1000 + GW_TICKET_TTL_MS + 1, key, sizeof key), 0);
    ck_assert_int_eq(gateway_tickets_redeem(t, a, 1000, key, sizeof key), 0);
    /* the wrong length, a near miss, NULL */
    ck_assert_int_eq(gateway_tickets_issue(t, "", 1000, a), 0);
    char near[GW_TICKET_LEN + 1];
    memcpy(near, a, sizeof near);
    near[10] = near[10] == '0' ? '1' : '0';
    ck_assert_int_eq(gateway_tickets_redeem(t, near, 1000, key, sizeof key), 0);
    ck_assert_int_eq(gateway_tickets_redeem(t, "abc", 1000, key, sizeof key), 0);
    ck_assert_int_eq(gateway_tickets_redeem(t, NULL, 1000, key, sizeof key), 0);
    ck_assert_int_eq(gateway_tickets_redeem(t, a, 1000, key, sizeof key), 1);
    ck_assert_str_eq(key, ""); /* --open */
    /* one key at most GW_TICKETS_PER_KEY unused at a time; another key is not held up */
    for (int i = 0; i < GW_TICKETS_PER_KEY; i++)
        ck_assert_int_eq(gateway_tickets_issue(t, "key-in-a-loop-012345", 3000, a), 0);
    ck_assert_int_eq(gateway_tickets_issue(t, "key-in-a-loop-012345", 3000, a), WH_EBUSY);
    ck_assert_int_eq(gateway_tickets_issue(t, "key-in-a-loop-0123456", 3000, b), 0);
    ck_assert_int_eq(gateway_tickets_issue(t, "key-in-a-loop-01234", 3000, b), 0);
    /* a spent one makes room again */
    ck_assert_int_eq(gateway_tickets_redeem(t, b, 3000, key, sizeof key), 1);
    ck_assert_int_eq(gateway_tickets_redeem(t, a, 3000, key, sizeof key), 1);
    ck_assert_str_eq(key, "key-in-a-loop-012345");
    ck_assert_int_eq(gateway_tickets_issue(t, "key-in-a-loop-012345", 3000, a), 0);
    ck_assert_int_eq(gateway_tickets_issue(t, "key-in-a-loop-012345", 3000, a), WH_EBUSY);
    /* a full table: EBUSY until one expires */
    char k[32];
    for (int i = 0; i < GW_TICKETS_MAX; i++) {
        snprintf(k, sizeof k, "k%d", i / GW_TICKETS_PER_KEY);
        ck_assert_int_eq(gateway_tickets_issue(t, k, 5000 + GW_TICKET_TTL_MS, a), 0);
    }
    ck_assert_int_eq(gateway_tickets_issue(t, "another", 5000 + GW_TICKET_TTL_MS, a), WH_EBUSY);
    ck_assert_int_eq(gateway_tickets_issue(t, "another", 5000 + 2 * GW_TICKET_TTL_MS + 1, a), 0);
    gateway_tickets_destroy(&t);
    ck_assert_ptr_null(t);
    gateway_tickets_destroy(&t);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("web");
    TCase *tc = tcase_create("web");
    tcase_add_loop_test(tc, names, 0, (int)(sizeof s_names / sizeof s_names[0]));
    tcase_add_test(tc, types);
    tcase_add_test(tc, tickets);
    suite_add_tcase(s, tc);
    return wh_test_run(s);
}
