/*
 * The connector registry: a const list of the SQL connectors built in, looked up by the
 * normalised URL scheme that sf_db_url_parse() produces ("mysql", "postgresql").
 */
#include "sqlflume/connector.h"

#include <stddef.h>
#include <string.h>

#include "mysql/mysql_sql.h"
#include "postgresql/postgresql_sql.h"

static const struct sf_connector_plugin *const connectors[] = {
    &sf_connector_mysql,
    &sf_connector_postgresql,
};

const struct sf_connector_plugin *sf_connector_find(const char *scheme)
{
    if (!scheme) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(connectors) / sizeof(connectors[0]); i++) {
        for (const char *const *s = connectors[i]->schemes; *s; s++) {
            if (strcmp(*s, scheme) == 0) {
                return connectors[i];
            }
        }
    }
    return NULL;
}
