/*
 * `sqlflume check --connect`: after the offline validation, connect to every database and Kafka
 * cluster the agent's configuration names and check what the agent will need there, one line
 * per check (Kafka Connect's connector validation is the model: each config is tried against the
 * systems it points to, and every finding is reported, not only the first).
 */
#ifndef SQLFLUME_CHECK_CONNECT_H
#define SQLFLUME_CHECK_CONNECT_H

#include <stdint.h>
#include <stdio.h>

#include "sqlflume/agent.h"

/** Exit code of `check --connect` when a check failed (2 stays "invalid configuration"). */
#define SF_CHECK_EXIT_FAILED 1

/**
 * Run the checks for every SQL source and Kafka sink of a (validated, not started) agent and
 * print one line per check to out:
 *   "ok   r1 orders: table exists (primary key id)"
 *   "FAIL r1 orders: user reader lacks SELECT on orders: permission denied for table orders"
 *   "skip k1: topic \"%{table}\" is chosen per event ..."  (cannot be checked; not a failure)
 * SQL source: the database (and the status database) answers with the source's URL, user and
 * password (never printed); the status table exists with SELECT/INSERT/UPDATE for the user, or
 * can be created; with backfill, the open transactions can be listed (PROCESS on MySQL/MariaDB);
 * per table: it exists, the user may SELECT it, the incremental (integer or decimal) and
 * timestamp (date/time) columns exist with a usable type, and no running agent holds the lock of
 * its status key (taken and released at once; sqlflume/status_lock.h). Kafka sink: the cluster
 * answers a metadata request made with the sink's kafka.producer.* settings, and kafka.topic
 * exists or the broker will create it.
 * Connections are opened and closed here; nothing is written to any database or topic.
 * @return 0 when every check passed (skips allowed), SF_CHECK_EXIT_FAILED otherwise.
 */
int sf_check_connect(const struct sf_agent *a, FILE *out);

#endif
