/* One client connection: reads with libuv, parses with llhttp, enforces the
 * limits of SPEC §10, hands complete requests to the router one at a time
 * (pipelined requests wait their turn) and writes answers in order. */
#ifndef OTPGATE_HTTP_CONN_H
#define OTPGATE_HTTP_CONN_H

#include "gateway/server.h"

/* Sets up what connections share on the server (the per-address counts,
 * the turn handles); call once the loop exists, before accepting. The
 * handles are closed by server.c when it finishes; http_conn_release frees
 * the rest after the loop has ended. */
void http_conn_init(struct server *s);
void http_conn_release(struct server *s);
/* Accepts one pending connection on the server's listener. */
void http_conn_accept(struct server *s);
/* Cuts connections past their deadline: slow requests get 408, idle
 * keep-alive connections are closed. now_ms is uv_now(). */
void http_conn_sweep(struct server *s, uint64_t now_ms);
/* For graceful shutdown: closes idle connections now and marks busy ones to
 * close after their answer; with force, closes every connection. */
void http_conn_close_all(struct server *s, bool force);

#endif
