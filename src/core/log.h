/* JSON-lines logging to stderr: one object per line with ts, level, msg and
 * string fields. Callers must never pass a secret (code, key, password) as a
 * field: this module cannot tell and writes what it is given. */
#ifndef OTPGATE_LOG_H
#define OTPGATE_LOG_H

#include "core/common.h"

enum log_level { OG_LOG_DEBUG = 0, OG_LOG_INFO, OG_LOG_WARN, OG_LOG_ERROR };

void log_set_level(enum log_level level);
bool log_enabled(enum log_level level);
/* Parses debug|info|warn|error; returns 0 or OG_ERR_INVALID. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Writes one line. After msg come key, value pairs of C strings, ended by
 * NULL: log_event(OG_LOG_INFO, "listening", "addr", "127.0.0.1:8080", NULL).
 * A NULL value is written as JSON null. One write(2) per line. */
void log_event(enum log_level level, const char *msg, ...) __attribute__((sentinel));

#define log_debug(...) log_event(OG_LOG_DEBUG, __VA_ARGS__, NULL)
#define log_info(...)  log_event(OG_LOG_INFO, __VA_ARGS__, NULL)
#define log_warn(...)  log_event(OG_LOG_WARN, __VA_ARGS__, NULL)
#define log_error(...) log_event(OG_LOG_ERROR, __VA_ARGS__, NULL)

/* Appends s to out as JSON string contents (no quotes), escaping as needed.
 * Returns the bytes written, never more than cap - 1; output stays
 * NUL-terminated. Shared with anything that hand-writes small JSON. */
size_t log_json_escape(char *out, size_t cap, const char *s);

/* Notes which file stderr appends to, when it is a regular file (call once
 * at start, before any rotation). */
void log_remember_target(void);
/* That file's path, or NULL when stderr is a pipe, a terminal or journald. */
const char *log_target(void);
/* Opens the remembered path again (created with the old file's mode if a
 * rotation moved it away) and puts it on stderr: OG_OK, OG_ERR_NOT_FOUND
 * when stderr was no file, OG_ERR_IO (errno says why). */
int log_reopen(void);

#endif
