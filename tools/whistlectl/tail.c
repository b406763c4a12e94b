/* tail.c: whistlectl tail. Prints every entry of one notification topic, in order, once:
 * subscribes first, replays from the position until the head, then follows live; replays
 * again when a live entry skips a sequence or a heartbeat shows the head beyond what was
 * printed (the entries a slow or stopped tail misses are dropped for it at notification's
 * high-water mark, so a gap is the normal way back from a pause). With --cursor FILE the
 * position survives a restart: FILE holds the last sequence printed, read at start and
 * replaced atomically (write FILE.tmp, fsync, rename) after each batch printed.
 *
 * Position: --from SEQ, else the cursor file, else the oldest sequence kept. A position older
 * than the topic's retention is refused ("gone: oldest is N", exit 1) unless --from-oldest. */
#include "tail.h"
#include "ctl.h"
#include "whistle/client.h"
#include "whistle/clock.h"
#include "whistle/codec.h"
#include "whistle/error.h"
#include "whistle/json.h"
#include "whistle/link.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

enum { S_EXIT_REFUSED = 1, S_EXIT_USAGE = 2 };

/* With neither an entry nor a heartbeat for this long, ask for a replay anyway. */
#define S_QUIET_MS 5000
/* Live messages read per wake-up before the cursor is written. */
#define S_DRAIN 512
#define S_REPLAY_MAX 512

struct s_tail {
    const struct ctl_tail_env *env;
    const char *topic;
    size_t topic_len;
    const char *cursor_path;  /* NULL: no cursor file */
    uint64_t next;            /* the sequence to print next */
    uint64_t saved;           /* last sequence written to the cursor file */
    long printed;
    long count;               /* stop after this many; -1: never */
    int told_empty;           /* "empty so far" was said */
};

static volatile sig_atomic_t s_interrupted;
static void s_on_signal(int sig)
{
    (void)sig;
    s_interrupted = 1;
}

static void s_print(const struct s_tail *t, const Whistle__V1__Envelope *e)
{
    if (t->env->json) {
        json_t *j = wh_message_to_json(&e->base);
        char *s = json_dumps(j, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(j);
    } else if (e->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_CASE_UPDATED) {
        const Whistle__V1__CaseUpdated *u = e->case_updated;
        const Whistle__V1__HistoryEntry *h = u->entry;
        printf("%s %" PRIu64 " %s %s %s %s", e->stream, e->seq, e->correlation_id,
               h ? wh_action_name(h->action) : "-",
               u->case_ && u->case_->state ? wh_state_name(u->case_->state) : "-", e->event_id);
        if (h && h->actor[0]) printf(" by %s", h->actor);
        if (h && h->department[0] && strcmp(h->department, h->actor) != 0)
            printf(" dept %s", h->department);
        if (h && h->action == WHISTLE__V1__ACTION__DISPATCH && u->case_) {
            for (size_t i = 0; i < u->case_->n_assignments; i++)
                printf("%s%s", i ? "," : " to ", u->case_->assignments[i]->department);
            const Whistle__V1__Report *r = u->case_->report;
            if (r && r->source[0]) printf(" via %s", r->source);
            if (r && r->location[0]) printf(" at %s", r->location);
        }
        if (h && (h->action == WHISTLE__V1__ACTION__DISPATCH ||
                  h->action == WHISTLE__V1__ACTION__REFUSE) &&
            u->case_ && u->case_->report && u->case_->report->task) {
            /* 社区事务准入: what was handed down, by whom, on which authority and funding */
            const Whistle__V1__CommunityTask *tk = u->case_->report->task;
            if (tk->affair[0]) printf(" task %s", tk->affair);
            if (tk->issuer[0]) printf(" issued by %s", tk->issuer);
            if (tk->authority_ref[0]) printf(" authority %s", tk->authority_ref);
            if (tk->funding_ref[0]) printf(" funding %s", tk->funding_ref);
        }
        /* 乡街吹哨: what the lead decided, and why (the reporter reads a rejection's reason) */
        if (h && h->note[0] &&
            (h->action == WHISTLE__V1__ACTION__BLOW || h->action == WHISTLE__V1__ACTION__HAND_OVER ||
             h->action == WHISTLE__V1__ACTION__REJECT))
            printf(": %s", h->note);
        printf("\n");
    } else {
        printf("%s %" PRIu64 " %s %s\n", e->stream, e->seq, e->correlation_id, e->event_id);
    }
}

/* Prints `e` if it is the next entry. 1 printed, 0 not the next one. */
static int s_take(struct s_tail *t, const Whistle__V1__Envelope *e)
{
    if (e->seq != t->next || (t->count >= 0 && t->printed >= t->count)) return 0;
    s_print(t, e);
    t->next++;
    t->printed++;
    return 1;
}

/* Reads the last sequence printed from the cursor file into *last. 1 read, 0 no file yet,
 * -1 unreadable (printed). */
static int s_cursor_read(const char *path, uint64_t *last)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0;
        fprintf(stderr, "whistlectl tail: --cursor %s: %s\n", path, strerror(errno));
        return -1;
    }
    char buf[32] = "";
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf || (*end && *end != '\n') || buf[0] == '-') {
        fprintf(stderr, "whistlectl tail: --cursor %s does not hold a sequence number (it "
                        "holds the last one printed, such as 42)\n", path);
        return -1;
    }
    *last = v;
    return 1;
}

/* Writes what was printed (next - 1) to the cursor file, atomically. 0, or -1 (printed). */
static int s_cursor_save(struct s_tail *t)
{
    if (!t->cursor_path || t->next - 1 == t->saved) return 0;
    fflush(stdout); /* printed before recorded: a crash between repeats, never skips */
    char tmp[4096], buf[32];
    snprintf(tmp, sizeof tmp, "%s.tmp", t->cursor_path);
    int len = snprintf(buf, sizeof buf, "%" PRIu64 "\n", t->next - 1);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int ok = fd >= 0 && write(fd, buf, (size_t)len) == len && fsync(fd) == 0;
    if (fd >= 0 && close(fd) != 0) ok = 0;
    if (!ok || rename(tmp, t->cursor_path) != 0) {
        fprintf(stderr, "whistlectl tail: cannot write the cursor to %s: %s\n", t->cursor_path,
                strerror(errno));
        unlink(tmp);
        return -1;
    }
    t->saved = t->next - 1;
    return 0;
}

/* Asks for the entries from t->next on and prints them. Returns 1 when more are waiting, 0
 * when caught up, or an exit status + 100 to stop (printed). */
static int s_replay(struct s_tail *t, wh_client_t *cl, int from_oldest, int position_given)
{
    Whistle__V1__Request req = WHISTLE__V1__REQUEST__INIT;
    Whistle__V1__Replay rp = WHISTLE__V1__REPLAY__INIT;
    rp.topic = (char *)t->topic;
    rp.from_seq = t->next;
    rp.max = S_REPLAY_MAX;
    req.body_case = WHISTLE__V1__REQUEST__BODY_REPLAY;
    req.replay = &rp;
    Whistle__V1__Reply *r = NULL;
    if (wh_client_call(cl, &req, &r, t->env->timeout_ms) != 0) {
        fprintf(stderr, "whistlectl tail: no reply from notification at %s; retrying\n",
                t->env->api);
        return 1;
    }
    int rc = 0;
    if (r->body_case == WHISTLE__V1__REPLY__BODY_ERROR && r->error->code == WH_EGONE &&
        r->error->oldest > t->next) {
        uint64_t oldest = r->error->oldest;
        if (!position_given) {
            t->next = oldest; /* nothing was asked for: start with what is kept */
            rc = 1;
        } else if (from_oldest) {
            fprintf(stderr, "whistlectl tail: %s %" PRIu64 "..%" PRIu64 " are gone (older than "
                    "the retention); going on from %" PRIu64 "\n", t->topic, t->next,
                    oldest - 1, oldest);
            t->next = oldest;
            rc = 1;
        } else {
            fprintf(stderr, "whistlectl tail: gone: oldest is %" PRIu64 " (%s from %" PRIu64
                    " is older than the retention; --from-oldest starts at the oldest)\n",
                    oldest, t->topic, t->next);
            rc = 100 + S_EXIT_REFUSED;
        }
    } else if (r->body_case == WHISTLE__V1__REPLY__BODY_ERROR) {
        fprintf(stderr, "whistlectl tail: refused: %s%s%s\n", r->error->field,
                r->error->field[0] ? ": " : "", r->error->message);
        rc = 100 + S_EXIT_REFUSED;
    } else if (r->body_case == WHISTLE__V1__REPLY__BODY_REPLAY) {
        const Whistle__V1__ReplayReply *rr = r->replay;
        if (rr->head == 0 && !t->told_empty) {
            /* a topic is made by its first entry: an empty one may be a misspelt code */
            t->told_empty = 1;
            fprintf(stderr, "whistlectl tail: %s is empty so far (no entry was ever published "
                    "to it; is the code right? whistlectl catalog list ...); following it\n",
                    t->topic);
        }
        size_t took = 0;
        for (size_t i = 0; i < rr->n_entries; i++) took += (size_t)s_take(t, rr->entries[i]);
        rc = took > 0 && rr->head >= t->next;
        if (s_cursor_save(t)) rc = 100 + S_EXIT_REFUSED;
    }
    whistle__v1__reply__free_unpacked(r, NULL);
    return rc;
}

/* Reads what the SUB has, up to a bound. Sets *gap when a replay is needed; returns the
 * number of messages read from notification (entries and heartbeats). */
static int s_drain(struct s_tail *t, void *sub, int *gap)
{
    int heard = 0;
    for (int i = 0; i < S_DRAIN; i++) {
        zmq_msg_t tp, b;
        zmq_msg_init(&tp);
        zmq_msg_init(&b);
        if (zmq_msg_recv(&tp, sub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&tp);
            zmq_msg_close(&b);
            break;
        }
        if (zmq_msg_more(&tp) && zmq_msg_recv(&b, sub, 0) >= 0 && zmq_msg_size(&tp) == t->topic_len) {
            Whistle__V1__Envelope *e = wh_envelope_unpack(zmq_msg_data(&b), zmq_msg_size(&b));
            if (e && strcmp(e->stream, t->topic) == 0) {
                heard++;
                if (e->payload_case == WHISTLE__V1__ENVELOPE__PAYLOAD_HEARTBEAT) {
                    if (e->heartbeat->head >= t->next) *gap = 1; /* behind: missed some */
                } else if (!s_take(t, e) && e->seq > t->next) {
                    *gap = 1; /* skipped a sequence: fetch it, in order */
                }
            }
            if (e) whistle__v1__envelope__free_unpacked(e, NULL);
        }
        zmq_msg_close(&tp);
        zmq_msg_close(&b);
    }
    return heard;
}

static int s_number(const struct ctl_cmd *cmd, const char *flag, const char *v, long long min,
                    long long *out)
{
    return ctl_number(cmd, flag, v, min, LLONG_MAX, out) ? -1 : 0;
}

/* 1 when `topic` is one notification can have: all/, district/, or KIND/CODE/ with KIND one
 * of dept, unit, grid, case and CODE one name (no '/'). */
static int s_topic_known(const char *topic)
{
    if (strcmp(topic, "all/") == 0 || strcmp(topic, "district/") == 0) return 1;
    static const char *const kinds[] = {"dept/",      "unit/",    "grid/",
                                        "case/",      "station/", "volunteer/",
                                        "community/"};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t k = strlen(kinds[i]);
        if (strncmp(topic, kinds[i], k) != 0) continue;
        const char *code = topic + k, *slash = strchr(code, '/');
        return slash && slash > code && slash[1] == 0;
    }
    return 0;
}

int ctl_tail_run(const struct ctl_tail_env *env, int argc, char **argv)
{
    struct s_tail t = {.env = env, .next = 1, .count = -1};
    long long from = -1, count = -1, idle_exit = -1;
    int from_oldest = 0;
    static const struct option opts[] = {{"from", 1, 0, 'f'},        {"count", 1, 0, 'c'},
                                         {"idle-exit", 1, 0, 'i'},   {"cursor", 1, 0, 'C'},
                                         {"from-oldest", 0, 0, 'o'}, {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    const struct ctl_cmd *cmd = env->cmd;
    unsigned char seen[256] = {0};
    int c;
    while ((c = ctl_getopt(cmd, argc, argv, opts, seen)) != -1) {
        switch (c) {
        case 'f': if (s_number(cmd, "--from", optarg, 1, &from)) return S_EXIT_USAGE; break;
        case 'c': if (s_number(cmd, "--count", optarg, 0, &count)) return S_EXIT_USAGE; break;
        case 'i': if (s_number(cmd, "--idle-exit", optarg, 0, &idle_exit)) return S_EXIT_USAGE; break;
        case 'C': t.cursor_path = optarg; break;
        case 'o': from_oldest = 1; break;
        case CTL_HELP: return 0;
        default: return S_EXIT_USAGE;
        }
    }
    if (ctl_args(cmd, argc, argv, 1, 1, "a TOPIC, such as dept/cg/ or case/C00000001/"))
        return S_EXIT_USAGE;
    t.topic = argv[optind];
    t.topic_len = strlen(t.topic);
    if (t.topic_len == 0 || t.topic[t.topic_len - 1] != '/')
        return ctl_usage(cmd, "topics end with '/': did you mean '%s/'?", t.topic);
    if (!s_topic_known(t.topic))
        return ctl_usage(cmd, "no such topic '%s': topics are all/, district/, dept/CODE/, "
                              "unit/CODE/, grid/CODE/, case/ID/, community/CODE/, "
                              "station/CODE/ and volunteer/CODE/", t.topic);
    t.count = count;
    int position_given = 0;
    if (t.cursor_path) {
        uint64_t last;
        int rc = s_cursor_read(t.cursor_path, &last);
        if (rc < 0) return S_EXIT_USAGE;
        if (rc > 0) {
            t.next = last + 1;
            t.saved = last;
            position_given = 1;
        }
    }
    if (from > 0) {
        t.next = (uint64_t)from;
        t.saved = t.next - 1;
        position_given = 1;
    }
    /* each line as it comes, also into a pipe (a department script reading tail's output) */
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGINT, s_on_signal);
    signal(SIGTERM, s_on_signal);
    wh_client_t *cl = env->client ? env->client(env->api) : wh_client_new(env->api);
    if (!cl) {
        fprintf(stderr, "whistlectl tail: cannot connect to notification at %s\n", env->api);
        return 3;
    }
    /* subscribed first, then replay: nothing published in between is lost */
    void *sub = zmq_socket(wh_client_zmq_ctx(cl), ZMQ_SUB);
    int linger = 0;
    zmq_setsockopt(sub, ZMQ_LINGER, &linger, sizeof linger);
    wh_client_secure(cl, sub); /* the same keys as the replay client, when keys are on */
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, t.topic, t.topic_len);
    wh_link_watch(sub, WH_LINK_HEARTBEAT_MS); /* a partitioned link is cut and made again */
    zmq_connect(sub, env->events);
    int rc = 0, gap = 1;
    int64_t last_new = wh_mono_ms(), last_heard = last_new, last_replay = 0;
    while (!s_interrupted && (t.count < 0 || t.printed < t.count)) {
        long before = t.printed;
        int64_t now = wh_mono_ms();
        if (gap || (now - last_heard > S_QUIET_MS && now - last_replay > S_QUIET_MS)) {
            int more = s_replay(&t, cl, from_oldest, position_given);
            last_replay = wh_mono_ms();
            if (more >= 100) {
                rc = more - 100;
                break;
            }
            gap = more;
        } else {
            zmq_pollitem_t item = {sub, 0, ZMQ_POLLIN, 0};
            zmq_poll(&item, 1, 200);
            if (item.revents & ZMQ_POLLIN && s_drain(&t, sub, &gap) > 0) last_heard = wh_mono_ms();
            if (s_cursor_save(&t)) {
                rc = S_EXIT_REFUSED;
                break;
            }
        }
        if (t.printed > before) last_new = wh_mono_ms();
        if (idle_exit >= 0 && wh_mono_ms() - last_new > idle_exit) break;
    }
    fflush(stdout);
    zmq_close(sub);
    wh_client_destroy(&cl);
    return rc;
}
