/* A request whose handler runs on a database worker (dbpool.h), on
 * PostgreSQL: the handler runs inside one transaction of its own at
 * SERIALIZABLE; its answer is recorded, not written, and goes out from the
 * loop once the COMMIT has returned, so no success is ever reported for a
 * write the database refused. A serialization failure, deadlock or lost
 * connection runs the whole handler again (a few times, then 503 with
 * Retry-After); a COMMIT whose outcome is unknown answers 503 without
 * running again. Handlers are written once for both engines: batch.c's
 * calls (savepoints, answers) come here on PostgreSQL. */
#ifndef OTPGATE_REQUEST_TX_H
#define OTPGATE_REQUEST_TX_H

#include "gateway/http/http.h"

/* Runs req's handler on a worker; from the loop (http_conn's dispatch). */
void request_tx_dispatch(struct http_request *req);
/* True on a worker while it runs a request's handler. */
bool request_tx_active(void);
/* What http_respond does on a worker: keeps a copy of the answer for the
 * loop. False (nothing done) when req is not the running request of the
 * calling thread. */
bool request_tx_record(struct http_request *req, int status, const char *content_type,
                       const void *body, size_t len);
/* batch_request_begin / _end on a worker: a savepoint in the request's
 * transaction, kept or rolled back. */
int request_tx_savepoint(void);
void request_tx_release(bool keep);

#endif
