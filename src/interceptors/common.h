/*
 * What the interceptors share: header edits that build the replacement event (events are one
 * allocation each, event.h) and PCRE2 patterns compiled with Java's defaults as far as PCRE2 has
 * them. Internal to src/interceptors/.
 */
#ifndef SF_INTERCEPTORS_COMMON_H
#define SF_INTERCEPTORS_COMMON_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdbool.h>

#include "sqlflume/interceptor.h"

/**
 * ev with header key set to val (vlen bytes): its value replaced where the header exists (in its
 * place), appended otherwise. The replacement keeps ev's tracker and ack id; ev is destroyed.
 * @return the new event, or NULL on out of memory (ev is then untouched and still owned by the
 * caller).
 */
struct sf_event *
sf_ic_put_header(struct sf_event *ev, const char *key, const char *val, size_t vlen);
/**
 * The header-setting interceptors' step: unless preserve and *ev has header key, replace *ev by
 * its copy with key = val (vlen bytes). Out of memory is logged and *ev passed on unchanged.
 * @return SF_IC_KEEP
 */
enum sf_intercept sf_ic_set_header(struct sf_interceptor *ic,
                                   struct sf_event **ev,
                                   const char *key,
                                   const char *val,
                                   size_t vlen,
                                   bool preserve);
/**
 * ev's headers as lens (borrowed from ev) in small (nsmall entries) when they fit with extra
 * more, else in a malloc'd array (free it when it is not small). @return NULL on out of memory.
 */
struct sf_header_lens *
sf_ic_lens(const struct sf_event *ev, struct sf_header_lens *small, size_t nsmall, size_t extra);
/** Index of header key in ev, or -1. */
long sf_ic_header_index(const struct sf_event *ev, const char *key);

/**
 * Compile pattern (JIT-compiled where PCRE2 can) as UTF-8 (invalid UTF-8 in a subject never matches across the bad bytes,
 * PCRE2_MATCH_INVALID_UTF) with any Unicode line terminator as a newline (Java's `.` and `$`).
 * On failure adds "KEY: invalid regular expression "PATTERN": MESSAGE at offset N" to d at the
 * interceptor's key (its line when set, else the key's full name).
 * @return the compiled pattern (free with pcre2_code_free), or NULL with the error added.
 */
pcre2_code *
sf_ic_regex(struct sf_interceptor *ic, const char *key, const char *pattern, struct sf_diag *d);
/** Where the interceptor's key is for a diagnostic: its property, or a stand-in naming the full
 *  key (storage in *tmp, keybuf). */
const struct sf_prop *sf_ic_at(struct sf_interceptor *ic,
                               const char *key,
                               struct sf_prop *tmp,
                               char *keybuf,
                               size_t keybuf_size);
/**
 * Whether pattern re matches subject[0..len): anywhere (Java's find()) or, when whole, the
 * whole subject (Java's matches()). md may be NULL (one is made for the call).
 * @return 1 match, 0 none, or a negative PCRE2 error (a match limit reached).
 */
int sf_ic_match(const pcre2_code *re, const char *subject, size_t len, bool whole);

#endif
