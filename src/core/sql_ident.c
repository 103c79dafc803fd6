/*
 * SQL identifier quoting shared by the connectors (see sf_quote_ident in sqlflume/connector.h)
 * and their users (sf_quote_qualified).
 */
#include "sqlflume/connector.h"
#include "sqlflume/error.h"

#include <stdlib.h>
#include <string.h>

int sf_quote_ident(const char *name, char quote, struct sf_buf *out)
{
    if (!name || !*name) {
        return SF_ERR_INVAL;
    }
    sf_buf_putc(out, quote);
    for (const char *p = name; *p; p++) {
        if (*p == quote) {
            sf_buf_putc(out, quote);
        }
        sf_buf_putc(out, *p);
    }
    sf_buf_putc(out, quote);
    return SF_OK;
}

int sf_quote_qualified(const struct sf_connector_plugin *cx, const char *name, struct sf_buf *out)
{
    const char *dot = strchr(name, '.');
    if (!dot) {
        return cx->quote_ident(name, out);
    }
    char *schema = strndup(name, (size_t)(dot - name));
    int rc = schema ? cx->quote_ident(schema, out) : SF_ERR_NOMEM;
    free(schema);
    if (rc == SF_OK) {
        sf_buf_putc(out, '.');
        rc = cx->quote_ident(dot + 1, out);
    }
    return rc;
}
