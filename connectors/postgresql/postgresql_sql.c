/* PostgreSQL connector, reading SQL text: see pg_cursor_query in postgresql_sql.h. */
#include "postgresql_sql.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* A byte that may continue a keyword or identifier. */
static bool ident_byte(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '_' || ch == '$' || ch >= 0x80;
}

/* Whether sql can be a cursor's query: its first keyword, past blanks, comments and opening
 * parentheses, is SELECT, WITH, VALUES or TABLE. */
bool pg_cursor_query(const char *sql)
{
    static const char *const kw[] = { "select", "with", "values", "table" };
    const char *p = sql;
    for (;;) {
        p += strspn(p, " \t\n\r\f(");
        if (p[0] == '-' && p[1] == '-') {
            p += strcspn(p, "\n");
        } else if (p[0] == '/' && p[1] == '*') { /* nested, as in PostgreSQL */
            int depth = 0;
            do {
                if (p[0] == '/' && p[1] == '*') {
                    depth++;
                    p += 2;
                } else if (p[0] == '*' && p[1] == '/') {
                    depth--;
                    p += 2;
                } else {
                    p++;
                }
            } while (depth > 0 && *p);
        } else {
            break;
        }
    }
    for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++) {
        size_t n = strlen(kw[k]);
        if (strncasecmp(p, kw[k], n) == 0 && !ident_byte((unsigned char)p[n])) {
            return true;
        }
    }
    return false;
}
