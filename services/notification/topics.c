/* topics.c: which topics an event goes to. Topics end with '/' so that a prefix
 * subscription never matches a longer name ("dept/cg/" does not match "dept/cgj/"). */
#include "notification.h"
#include <stdio.h>

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
    for (size_t i = 0; i < c->n_assignments && n < max; i++)
        s_topic(topics[n++], "dept", c->assignments[i]->department);
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
