/* MySQL/MariaDB connector, connection options from the URL: see mysql_params.h. */
#include "mysql_params.h"
#include "../common.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlflume/log.h"

static bool truthy(const char *v)
{
    return strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0;
}

void my_apply_query_options(MYSQL *my, const char *query)
{
    if (!query || !*query) {
        return;
    }
    char *copy = sf_xstrdup(query);
    char *save = NULL;
    for (char *kv = strtok_r(copy, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        const char *val = "";
        if (eq) {
            *eq = '\0';
            val = eq + 1;
            sfc_pct_decode(eq + 1);
        }
        my_bool on = 1;
        if (strcasecmp(kv, "sslMode") == 0 || strcasecmp(kv, "ssl-mode") == 0 ||
            strcasecmp(kv, "ssl_mode") == 0) {
            if (strcasecmp(val, "REQUIRED") == 0 || strcasecmp(val, "VERIFY_CA") == 0 ||
                strcasecmp(val, "VERIFY_IDENTITY") == 0) {
                mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &on);
            }
            if (strcasecmp(val, "VERIFY_CA") == 0 || strcasecmp(val, "VERIFY_IDENTITY") == 0) {
                mysql_options(my, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &on);
            }
        } else if ((strcasecmp(kv, "useSSL") == 0 || strcasecmp(kv, "requireSSL") == 0) &&
                   truthy(val)) {
            mysql_options(my, MYSQL_OPT_SSL_ENFORCE, &on);
        } else if (strcasecmp(kv, "socket") != 0 && strcasecmp(kv, "unix_socket") != 0) {
            SF_DEBUG("mysql connector ignores URL option \"%s\"", kv);
        }
    }
    free(copy);
}
