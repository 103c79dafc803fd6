/*
 * SQL identifier quoting shared by the connectors (see sf_quote_ident in sqlflume/connector.h).
 */
#include "sqlflume/connector.h"
#include "sqlflume/error.h"

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
