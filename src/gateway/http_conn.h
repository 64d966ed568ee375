/* One client connection: reads with libuv, parses with llhttp, enforces the
 * limits of SPEC §10, hands complete requests to the router one at a time
 * (pipelined requests wait their turn) and writes answers in order. */
#ifndef OTPGATE_HTTP_CONN_H
#define OTPGATE_HTTP_CONN_H

#include "gateway/server.h"

/* Accepts one pending connection on the server's listener. */
void http_conn_accept(struct server *s);
/* Cuts connections past their deadline: slow requests get 408, idle
 * keep-alive connections are closed. now_ms is uv_now(). */
void http_conn_sweep(struct server *s, uint64_t now_ms);
/* For graceful shutdown: closes idle connections now and marks busy ones to
 * close after their answer; with force, closes every connection. */
void http_conn_close_all(struct server *s, bool force);

#endif
