/* intake.h: the front door for reports. Validates a SubmitReport, deduplicates it by its
 * idempotency key, gives it a case id, appends case.reported to intake's log in the same
 * transaction, and replies only after the commit. */
#ifndef WHISTLE_INTAKE_H
#define WHISTLE_INTAKE_H
#include "whistle/catalog.h"
#include "whistle/codec.h"
#include "whistle/options.h"
#include "whistle/service.h"

typedef struct intake intake_t;

/* Binds o->api and o->events, opens o->data_dir. Takes no ownership of `cat`, which must
 * outlive the object. NULL on failure (logged). */
intake_t *intake_new(const struct wh_options *o, const struct wh_catalog *cat);
/* Frees *self_p and sets it to NULL; safe on NULL. */
void intake_destroy(intake_t **self_p);
wh_service_t *intake_service(intake_t *self);

/* Checks every field of `sr` against the catalog. 0, or fills `err` naming the field. */
int intake_validate(const struct wh_catalog *cat, const Whistle__V1__SubmitReport *sr,
                    struct wh_field_error *err);

/* Formats the case id of intake log entry `seq` ("C00000042") into buf (>= 24 bytes). */
void intake_case_id(char *buf, size_t len, uint64_t seq);

#endif
