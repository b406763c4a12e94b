/* notification.h: the way out. Follows tracking's log and fans each case.updated out to
 * topics, each with its own gapless sequence, served live on the XPUB and by Replay{topic}:
 *   all/            every event (notification's own log)
 *   case/<id>/      one case
 *   unit/<code>/    the lead township or street
 *   grid/<code>/    the grid of the report
 *   dept/<code>/    every department assigned to the case
 *   district/       every escalation (督办)
 * Grid visit records (visit.logged) go to all/ and grid/<code>/. */
#ifndef WHISTLE_NOTIFICATION_H
#define WHISTLE_NOTIFICATION_H
#include "whistle/catalog.h"
#include "whistle/options.h"
#include "whistle/service.h"

typedef struct notification notification_t;

notification_t *notification_new(const struct wh_options *o, const struct wh_catalog *cat);
void notification_destroy(notification_t **self_p);
wh_service_t *notification_service(notification_t *self);

#define NOTIFICATION_MAX_TOPICS 24

/* Fills `topics` (each >= 80 bytes) with the topics event `u` goes to. Returns the count. */
size_t notification_topics(const Whistle__V1__CaseUpdated *u, char topics[][80], size_t max);

/* The topics of a grid visit record: all/ and grid/<code>/. */
size_t notification_visit_topics(const Whistle__V1__VisitLogged *v, char topics[][80], size_t max);

#endif
