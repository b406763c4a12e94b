/* authorize.c: who may take which action, by the identity a peer's key gives it (keys on).
 *
 * A department acts only on its own assignment and only as itself; a township, street or
 * community resolves and assigns only as itself (whether it leads the case is the machine's
 * question); an integrator relays the resident's verification. Services and operators are not
 * limited, and with keys off nobody is identified and nothing is checked here. */
#include "tracking.h"
#include "whistle/error.h"
#include <string.h>

static int s_is_department_action(int action)
{
    return action == WHISTLE__V1__ACTION__CHECKIN || action == WHISTLE__V1__ACTION__PROGRESS ||
           action == WHISTLE__V1__ACTION__COMPLETE || action == WHISTLE__V1__ACTION__RETURN ||
           action == WHISTLE__V1__ACTION__RELEASE;
}

int tracking_authorize(const struct wh_identity *who, const Whistle__V1__CaseAction *a,
                       struct wh_field_error *err)
{
    if (who->kind == WH_KIND_NONE || wh_identity_trusted(who)) return 0;
    const char *act = wh_action_name(a->action);
    const char *actor = a->actor ? a->actor : "";
    if (s_is_department_action(a->action)) {
        if (who->kind != WH_KIND_DEPARTMENT)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                                      "%s is a department's action; this key is %s %s", act,
                                      wh_kind_name(who->kind), who->code);
        if (!a->department || strcmp(a->department, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.department",
                                      "this key is department '%s'; it may not act as '%s'",
                                      who->code, a->department ? a->department : "");
        if (actor[0] && strcmp(actor, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                      "this key is department '%s'; it may not act as '%s'",
                                      who->code, actor);
        return 0;
    }
    if (a->action == WHISTLE__V1__ACTION__RESOLVE || a->action == WHISTLE__V1__ACTION__ASSIGN) {
        if (who->kind != WH_KIND_TOWNSHIP)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                                      "%s is the lead unit's action; this key is %s %s", act,
                                      wh_kind_name(who->kind), who->code);
        if (strcmp(actor, who->code) != 0)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.actor",
                                      "this key is township '%s'; it may not act as '%s'",
                                      who->code, actor);
        return 0;
    }
    if (a->action == WHISTLE__V1__ACTION__VERIFY) {
        if (who->kind != WH_KIND_INTEGRATOR)
            return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                                      "VERIFY comes from the resident, through an integrator's "
                                      "key; this key is %s %s",
                                      wh_kind_name(who->kind), who->code);
        return 0;
    }
    return wh_field_error_set(err, WH_EFORBIDDEN, "case_action.action",
                              "%s is not taken through this endpoint by %s %s", act,
                              wh_kind_name(who->kind), who->code);
}
