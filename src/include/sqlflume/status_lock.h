/*
 * One running agent per status key (offset row): every SQL source holds a database lock per
 * status key on its status connection for as long as it runs, and `sqlflume check --connect`
 * tests the same lock. This is the lock's identity, shared by both.
 */
#ifndef SQLFLUME_STATUS_LOCK_H
#define SQLFLUME_STATUS_LOCK_H

#include <stddef.h>
#include <stdint.h>

/**
 * The lock id of one status key: 64-bit FNV-1a (offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3) of the bytes "<database>\n<status table>\n<status key>", the database being the
 * one of the status connection's URL ("" when the URL names none) and the status table as
 * configured (status.table). Stable across versions and machines (it is what two agents agree
 * on). PostgreSQL takes it as a signed bigint advisory lock; MySQL/MariaDB as the named lock
 * "sqlflume.<16 lowercase hex digits>" (25 characters; the connectors' lock_*_sql).
 * @param database, status_table, status_key  borrowed, NUL-terminated; database may be NULL
 */
uint64_t sf_status_lock_id(const char *database, const char *status_table, const char *status_key);

/** The id as the signed 64-bit decimal text the connectors' lock_*_sql bind (at most 20 digits
 *  and a sign): written to out (outsz >= 21), returned. */
const char *sf_status_lock_param(uint64_t id, char *out, size_t outsz);

#endif
