/* link.h: how a whistle connection that went silent is noticed and replaced. */
#ifndef WHISTLE_LINK_H
#define WHISTLE_LINK_H

/* The heartbeat period assumed where none is configured (the services' --heartbeat-ms
 * default), e.g. by the blocking client. */
#define WH_LINK_HEARTBEAT_MS 1000
/* A connection is given up after this many heartbeat periods without traffic... */
#define WH_LINK_SILENT_BEATS 3
/* ...but never sooner than this (see link.c). */
#define WH_LINK_TIMEOUT_MIN_MS 1000
/* The kernel gives a TCP connection up after this long without an answer, at the least. */
#define WH_LINK_TCP_MIN_MS 2000

/* How long a connection may stay silent before it is given up, for a heartbeat period of
 * `heartbeat_ms` (<= 0: WH_LINK_HEARTBEAT_MS). */
int wh_link_timeout_ms(int heartbeat_ms);

/* Sets TCP keepalive and a user timeout on `zsock` (a ZeroMQ socket) so that a TCP connection
 * whose peer stops answering is closed after about wh_link_timeout_ms(heartbeat_ms) (at least
 * WH_LINK_TCP_MIN_MS), and bounds a TCP connect to the same; ZeroMQ then reconnects by
 * itself. Call before the socket's bind or connect. Returns 0, or WH_EBUS when ZeroMQ refused
 * an option. */
int wh_link_watch(void *zsock, int heartbeat_ms);

#endif
