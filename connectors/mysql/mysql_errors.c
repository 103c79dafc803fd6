/* MySQL/MariaDB connector, error classes: see mysql_errors.h. */
#include "mysql_errors.h"

#include <string.h>

#include "sqlflume/error.h"

int my_classify(unsigned int no, const char *sqlstate)
{
    switch (no) {
    case 1044: /* access denied to database */
    case 1045: /* access denied (wrong password) */
    case 1698: /* access denied (auth plugin) */
    case 1251: /* client does not support the authentication protocol */
        return SF_ERR_AUTH;
    case 1049: /* unknown database */
        return SF_ERR_INVAL;
    case 1053: /* server shutdown in progress */
    case 1040: /* too many connections */
    case 1152: /* aborted connection */
    case 1158: /* got an error reading communication packets */
    case 1159: /* got timeout reading communication packets */
    case 1160: /* got an error writing communication packets */
    case 1161: /* got timeout writing communication packets */
    case 1927: /* connection was killed */
    case 2002: /* can't connect through socket */
    case 2003: /* can't connect to server */
    case 2005: /* unknown host */
    case 2006: /* server has gone away */
    case 2013: /* lost connection during query */
    case 2026: /* TLS connection error */
    case 2055: /* lost connection (system error) */
    case 4031: /* disconnected by the server because of inactivity */
        return SF_ERR_CONN;
    case 1205: /* lock wait timeout */
    case 1213: /* deadlock */
    case 1317: /* query execution was interrupted */
    case 1969: /* query execution was interrupted (max_statement_time) */
    case 3024: /* maximum statement execution time exceeded */
        return SF_ERR_RETRY;
    case 1146: /* no such table */
        return SF_ERR_SQL;
    default:
        break;
    }
    if (no >= 2000 && no < 3000) {
        /* other client-side errors (out of sync, malformed packet...): the session is unusable */
        return SF_ERR_CONN;
    }
    if (sqlstate) {
        if (strncmp(sqlstate, "08", 2) == 0) {
            return SF_ERR_CONN;
        }
        if (strcmp(sqlstate, "40001") == 0) {
            return SF_ERR_RETRY;
        }
        if (strncmp(sqlstate, "28", 2) == 0) {
            return SF_ERR_AUTH;
        }
    }
    return SF_ERR_SQL;
}
