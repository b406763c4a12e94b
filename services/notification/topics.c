/* topics.c: which topics an event goes to. Topics end with '/' so that a prefix
 * subscription never matches a longer name ("dept/cg/" does not match "dept/cgj/"). */
#include "notification.h"
#include <stdio.h>
#include <string.h>

/* "<kind>/<name>/" into out (80 bytes); a long name is cut at a character boundary */
static void s_topic(char *out, const char *kind, const char *name)
{
    snprintf(out, 80, "%s/%.*s/", kind, (int)wh_utf8_prefix(name, 60), name);
}

size_t notification_topics(const Whistle__V1__CaseUpdated *u, char topics[][80], size_t max)
{
    const Whistle__V1__Case *c = u->case_;
    size_t n = 0;
    if (n < max) snprintf(topics[n++], 80, "all/");
    if (n < max) s_topic(topics[n++], "case", c->id);
    if (c->lead_unit && c->lead_unit[0] && n < max) s_topic(topics[n++], "unit", c->lead_unit);
    if (c->report && c->report->grid && c->report->grid[0] && n < max)
        s_topic(topics[n++], "grid", c->report->grid);
    /* each assignee on its own kind's topic: a department (dept/), a community handed a task
     * (community/), a stationed unit (station/) or a volunteer (volunteer/) */
    int issuer_on = 0;
    const char *issuer = c->report && c->report->task ? c->report->task->issuer : NULL;
    for (size_t i = 0; i < c->n_assignments && n < max; i++) {
        const Whistle__V1__Assignment *as = c->assignments[i];
        const char *k = as->kind && as->kind[0] ? as->kind : "dept";
        s_topic(topics[n++], k, as->department);
        if (issuer && strcmp(k, "dept") == 0 && strcmp(as->department, issuer) == 0)
            issuer_on = 1;
    }
    /* 社区派单: the community sees the orders it leads on community/<code>/ */
    if (c->report && c->report->order && c->lead_unit && c->lead_unit[0] && n < max)
        s_topic(topics[n++], "community", c->lead_unit);
    /* 社区事务准入: the department that handed a task down follows it, admitted or refused */
    if (issuer && issuer[0] && !issuer_on && n < max) s_topic(topics[n++], "dept", issuer);
    /* 督办: the district sees every step of the escalation ladder */
    if (u->entry && u->entry->action == WHISTLE__V1__ACTION__ESCALATE && n < max)
        snprintf(topics[n++], 80, "district/");
    return n;
}

size_t notification_visit_topics(const Whistle__V1__VisitLogged *v, char topics[][80], size_t max)
{
    size_t n = 0;
    if (n < max) snprintf(topics[n++], 80, "all/");
    if (n < max) s_topic(topics[n++], "grid", v->grid);
    return n;
}
