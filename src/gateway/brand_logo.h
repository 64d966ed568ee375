/* GET /brand/logo: the logo an admin uploaded (`otpgate brand set
 * logo=FILE` or the console's Branding page), read from the data directory
 * and kept in memory until the brand's logo changes. Served with its type
 * told by its bytes, nosniff and a sandbox CSP, so even an SVG opened on its
 * own runs nothing. Loop thread only. */
#ifndef OTPGATE_BRAND_LOGO_H
#define OTPGATE_BRAND_LOGO_H

#include "gateway/http/http.h"

void brand_logo_serve(struct http_request *req);

#endif
