/*
 * MySQL/MariaDB connector, connection options from the URL: the query-string options of a
 * database URL applied to a client handle before it connects. Internal to connectors/mysql.
 */
#ifndef SQLFLUME_MYSQL_PARAMS_H
#define SQLFLUME_MYSQL_PARAMS_H

#include <mysql.h>

/* Apply the few URL query options (query: the raw string after '?', NULL or "" for none) the
 * connector understands to my with mysql_options(): sslMode / ssl-mode / ssl_mode (REQUIRED,
 * VERIFY_CA, VERIFY_IDENTITY), useSSL / requireSSL (true, 1, yes). socket and unix_socket are the
 * URL parser's; any other option is ignored with a debug line, since JDBC URLs carry many
 * driver-specific ones. Values are percent-decoded. Never fails (out of memory aborts). */
void my_apply_query_options(MYSQL *my, const char *query);

#endif
