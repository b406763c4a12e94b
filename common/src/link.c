/* link.c: how a whistle connection that went silent is noticed and replaced.
 *
 * A partition that drops packets without a reset leaves TCP connections that look
 * established: the kernel retransmits with an exponential backoff (tens of seconds between
 * tries after a minute) and a connect to the unreachable side waits for its SYN retries
 * (about two minutes), so a healed link was only used again ~46 s later. Here the kernel gives
 * a connection up when it stays silent: TCP keepalive probes an idle connection every second
 * after one idle second and gives up after a few unanswered ones, and TCP_USER_TIMEOUT (libzmq's
 * ZMQ_TCP_MAXRT on Linux) gives up data left unacknowledged as long; a TCP connect is bounded
 * the same (ZMQ_CONNECT_TIMEOUT). ZeroMQ then reconnects every ZMQ_RECONNECT_IVL (100 ms) and
 * the follower replays what it missed (follower.c). All of it is for tcp://; ipc:// peers are
 * on the same machine and a connection dies with its process.
 *
 * Not ZMTP heartbeats (ZMQ_HEARTBEAT_IVL/TIMEOUT): with libzmq 4.3 a receiver whose queue is
 * full (a follower or subscriber that is slow or stopped) stops reading its connection, so it
 * sees no PONG, times the healthy connection out, and the reconnect can hit an assertion in
 * libzmq (stream_engine_base.cpp: "_input_stopped", zeromq/libzmq#3937) that aborts the
 * process: seen here with whistlectl tail SIGSTOPped under traffic. The kernel answers
 * keepalive probes and zero-window probes whatever the application does, so a slow peer is
 * never cut and a partitioned one always is. */
#include "whistle/link.h"
#include "whistle/error.h"
#include <zmq.h>

int wh_link_timeout_ms(int heartbeat_ms)
{
    int hb = heartbeat_ms > 0 ? heartbeat_ms : WH_LINK_HEARTBEAT_MS;
    /* three periods: one heartbeat late or lost is not a partition; the floor keeps a test's
     * 50 ms heartbeat from calling a busy machine's scheduling delay a partition */
    int timeout = hb > (1 << 28) ? (1 << 30) : hb * WH_LINK_SILENT_BEATS;
    return timeout < WH_LINK_TIMEOUT_MIN_MS ? WH_LINK_TIMEOUT_MIN_MS : timeout;
}

int wh_link_watch(void *zsock, int heartbeat_ms)
{
    int timeout = wh_link_timeout_ms(heartbeat_ms);
    int one = 1, idle = 1, intvl = 1;
    /* probes after one idle second, then every second: dead after about `timeout` */
    int cnt = timeout / 1000 > 1 ? timeout / 1000 : 1;
    int maxrt = timeout < WH_LINK_TCP_MIN_MS ? WH_LINK_TCP_MIN_MS : timeout;
    if (cnt < WH_LINK_TCP_MIN_MS / 1000) cnt = WH_LINK_TCP_MIN_MS / 1000;
    if (zmq_setsockopt(zsock, ZMQ_TCP_KEEPALIVE, &one, sizeof one) ||
        zmq_setsockopt(zsock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle) ||
        zmq_setsockopt(zsock, ZMQ_TCP_KEEPALIVE_INTVL, &intvl, sizeof intvl) ||
        zmq_setsockopt(zsock, ZMQ_TCP_KEEPALIVE_CNT, &cnt, sizeof cnt) ||
        zmq_setsockopt(zsock, ZMQ_TCP_MAXRT, &maxrt, sizeof maxrt) ||
        /* a SYN into a partition is given up as soon as a silent connection would be */
        zmq_setsockopt(zsock, ZMQ_CONNECT_TIMEOUT, &maxrt, sizeof maxrt))
        return WH_EBUS;
    return 0;
}
