/*
 * Configuration: the Flume properties file, diagnostics that name file, line and key, and the
 * per-component option tables that parse, validate and fill a component's context struct
 * (STYLE.md "Options": one table per component is the single source of truth).
 */
#ifndef SQLFLUME_OPTION_H
#define SQLFLUME_OPTION_H

#include <stdbool.h>
#include <stddef.h>

/** One `key = value` line of a properties file. */
struct sf_prop {
    char *key;
    char *val;        /* after ${VAR} substitution */
    const char *file; /* borrowed from sf_props */
    int line;         /* 1-based; 0 for -D overrides */
    bool used;        /* set when an option table or the agent consumed it */
};

struct sf_props {
    char *file;
    struct sf_prop *v;
    size_t n, cap;
};

/** Collected errors and warnings, each already formatted "file:line: key: message". */
struct sf_diag {
    char **errors;
    size_t nerrors;
    char **warnings;
    size_t nwarnings;
};

void sf_diag_error(struct sf_diag *d, const struct sf_prop *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void sf_diag_warn(struct sf_diag *d, const struct sf_prop *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Log every warning (WARN) and error (ERROR). */
void sf_diag_log(const struct sf_diag *d);
void sf_diag_free(struct sf_diag *d);

/**
 * Load a Java/Flume properties file: `key = value`, `key: value` or `key value`, `#`/`!`
 * comments, `\` line continuation, later keys override earlier ones (as Java's Properties and
 * so Flume do; a warning in d names both lines). `${VAR}` and `${env:VAR}`
 * are replaced by the environment variable (an undefined variable is an error in d).
 * @return SF_OK; SF_ERR_IO when the file cannot be read, SF_ERR_INVAL when a value refers to an
 * undefined or malformed variable (errors added to d).
 */
int sf_props_load(struct sf_props *p, const char *path, struct sf_diag *d);
/** Parse properties from a string (for tests); name is used in diagnostics. @return SF_OK, or
 *  SF_ERR_INVAL as sf_props_load (errors added to d). */
int sf_props_parse(struct sf_props *p, const char *name, const char *text, struct sf_diag *d);
/** Set or override key (for -D and defaults). */
void sf_props_set(struct sf_props *p, const char *key, const char *val);
/** Lookup; NULL when absent. The result is borrowed from p. */
struct sf_prop *sf_props_get(const struct sf_props *p, const char *key);
void sf_props_free(struct sf_props *p);

/** The keys of one component: every property starting with prefix ("a1.sources.r1."). */
struct sf_section {
    const char *kind;     /* "source", "channel", "sink" */
    const char *name;     /* "r1" */
    char *prefix;         /* owned */
    struct sf_prop **v;   /* borrowed from the sf_props; keys include the prefix */
    size_t n;
};

/** Collect the section. Free with sf_section_free. @return SF_OK, or SF_ERR_NOMEM. */
int sf_section_init(struct sf_section *s, struct sf_props *p, const char *kind, const char *name,
                    const char *prefix);
void sf_section_free(struct sf_section *s);
/**
 * The keys of parent under subprefix ("serializer." of a sink) as a section of their own, for
 * sf_options_apply on a part of a component (its keys' subkeys are then relative to
 * parent->prefix + subprefix, and its diagnostics name kind and name as a component's do).
 * @param sub  filled; free with sf_section_free. Its props are parent's (borrowed).
 * @param kind, name  borrowed; they must outlive sub
 * @return SF_OK, or SF_ERR_NOMEM (sub is then empty and need not be freed).
 */
int sf_section_sub(struct sf_section *sub, const struct sf_section *parent, const char *kind,
                   const char *name, const char *subprefix);
/** Lookup subkey ("type") in the section; NULL when absent or s is NULL. */
struct sf_prop *sf_section_get(const struct sf_section *s, const char *subkey);
/** Subkey of a property of the section (its key without the prefix). */
const char *sf_section_subkey(const struct sf_section *s, const struct sf_prop *p);

enum sf_opt_type {
    SF_OPT_STRING, /* char * in ctx, malloc'd copy (NULL when no value and no default) */
    SF_OPT_INT,    /* long long in ctx, checked against [min, max] */
    SF_OPT_BOOL,   /* bool in ctx: true/false (case-insensitive) */
    SF_OPT_ENUM,   /* int in ctx: index of the value in choices ("json|csv|text") */
    SF_OPT_PREFIX, /* pass-through family ("kafka.producer."): accepted, read by the component */
    SF_OPT_UNSUPPORTED, /* a Flume key (a family when it ends with '.') that sqlflume does not
                         * implement: setting it is an error "KEY = VALUE is not supported (desc)"
                         * rather than a key silently ignored; no field in ctx */
};

#define SF_OPT_REQUIRED 0x1u /* no default: must be set */
#define SF_OPT_SECRET 0x2u   /* never logged */

/** One row of a component's option table; tables end with a row whose key is NULL. */
struct sf_option {
    const char *key;     /* Flume's name */
    enum sf_opt_type type;
    const char *def;     /* default as text, NULL = none */
    long long min, max;  /* for SF_OPT_INT */
    size_t offset;       /* offsetof(ctx struct, field); unused for SF_OPT_PREFIX */
    unsigned flags;
    const char *aliases; /* other accepted keys, space-separated, or NULL */
    const char *choices; /* for SF_OPT_ENUM: "a|b|c" */
    const char *desc;    /* one sentence with the unit */
};

/**
 * Fill ctx from the section using the table: defaults first, then values (aliases accepted),
 * checked by type and range. Errors (missing required key, bad number, out of range, bad choice)
 * go to d naming file, line and key. Flume keys sqlflume does not implement are errors
 * "FILE:LINE: KEY = VALUE is not supported (why)": the table's SF_OPT_UNSUPPORTED rows and, for
 * every source (s->kind "source"), Flume's channel selector (`selector.*`; only
 * `selector.type = replicating`, Flume's default and what the agent does, is accepted) and
 * interceptors (`interceptors`, `interceptors.*`). Other keys of the section that no row accepts
 * (besides `type`, and `channels` of a source or `channel` of a sink) are warned about with the
 * nearest known key. Every key of the section is marked used.
 * @return SF_OK when no error was added, SF_ERR_INVAL otherwise. Strings in ctx are owned by ctx: free them
 * with sf_options_free.
 */
int sf_options_apply(const struct sf_option *opts, struct sf_section *s, void *ctx,
                     struct sf_diag *d);
/**
 * Add the error "FILE:LINE: KEY = VALUE is not supported (why)" for a Flume key sqlflume does
 * not implement (the location as far as p has one). p and why are borrowed.
 */
void sf_diag_unsupported(struct sf_diag *d, const struct sf_prop *p, const char *why);
/** Free the SF_OPT_STRING fields of ctx that the table describes. */
void sf_options_free(const struct sf_option *opts, void *ctx);
/** The closest string to key among cands (Levenshtein distance <= 3), or NULL. */
const char *sf_nearest(const char *key, const char *const *cands, size_t n);

/**
 * Split a configuration list into its names: the agent's component lists ("r1 r2", "c1,c2") and
 * the sql source's `tables` with space_separates true, its `columns.to.select` with false.
 * Commas always separate names; spaces and tabs separate them too when space_separates, and
 * otherwise stay inside a name ("first name, id" gives "first name" and "id"). Blanks around a
 * name are dropped and empty items are skipped: ", a,,b ," gives "a" and "b"; "" or " , " gives
 * no name. Names are not unquoted or checked.
 * @param s  the list, NUL-terminated; borrowed
 * @param n  out: the number of names in the result
 * @param space_separates  whether spaces and tabs separate names as commas do
 * @return a malloc'd array of *n malloc'd names in list order, owned by the caller (free with
 * sf_names_free); NULL with *n = 0 when the array cannot be allocated. When memory runs out
 * part way, the names split so far are returned, and a name whose copy failed is NULL.
 */
char **sf_split_names(const char *s, size_t *n, bool space_separates);
/**
 * Split the sql source's `tables` list: names separated by commas, spaces or tabs, where a part
 * of a name in double quotes or backquotes ("My Table", `My Table`, shop."Order Lines") keeps
 * its blanks and commas, a doubled quote inside stands for one, and the quotes are removed (the
 * connectors quote every name again as an identifier). Empty items are skipped.
 * @param s    the list, NUL-terminated; borrowed
 * @param n    out: the number of names in the result
 * @param err  out: NULL, or a static message when a quote is not closed (then NULL is returned)
 * @return a malloc'd array of *n malloc'd names in list order, owned by the caller (free with
 * sf_names_free); NULL with *n = 0 on an unclosed quote or when the array cannot be allocated.
 */
char **sf_split_quoted_names(const char *s, size_t *n, const char **err);
/** Free the n names of v and v itself (a result of sf_split_names); NULL names and v = NULL
 *  (with n = 0) are fine. */
void sf_names_free(char **v, size_t n);

#endif
