/*
 * MySQL/MariaDB connector, error classes: how a server or client error number and its SQLSTATE
 * map to sqlflume's error classes (retriable connection loss, retriable deadlock or timeout,
 * authentication, configuration, other SQL errors). Internal to connectors/mysql.
 */
#ifndef SQLFLUME_MYSQL_ERRORS_H
#define SQLFLUME_MYSQL_ERRORS_H

/* The sf_err class of MySQL error number no with SQLSTATE sqlstate (may be NULL): SF_ERR_AUTH,
 * SF_ERR_INVAL (unknown database), SF_ERR_CONN (the session is unusable: reconnect),
 * SF_ERR_RETRY (lock wait, deadlock, interrupted statement) or SF_ERR_SQL. */
int my_classify(unsigned int no, const char *sqlstate);

#endif
