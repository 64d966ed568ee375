/* The route table of otpgate: every path the server answers, in one place. */
#ifndef OTPGATE_ROUTES_H
#define OTPGATE_ROUTES_H

#include "gateway/router.h"

extern const struct route routes_table[];
extern const size_t routes_count;

#endif
