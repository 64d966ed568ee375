/* The route table of otpgate: every path the server answers, in one place. */
#ifndef OTPGATE_ROUTES_H
#define OTPGATE_ROUTES_H

#include "gateway/http/router.h"

extern const struct route routes_table[];
extern const size_t routes_count;

/* The answer to a path no route has (404) or a method a path does not take
 * (405, with Allow already added): a page in the site's layout and the
 * browser's language when a browser asks (Accept: text/html, not under
 * /api/), else JSON under /api/ and plain text elsewhere. */
void routes_error(struct http_request *req, int status);

#endif
