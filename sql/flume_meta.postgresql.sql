-- Status (offset) table of the SQL sources on PostgreSQL: one row per source, holding the last
-- delivered value of its incremental column as text. Compatible with the table the seed agent
-- created: currentIndex is deliberately unquoted, so the column is stored as currentindex, as
-- the seed's unquoted DDL made it. The agent creates it itself when missing (status_table_ddl in
-- connectors/postgresql/postgresql_sql.h holds the same statement) and writes it with an
-- idempotent upsert:
--   INSERT INTO flume_meta (source_tab, currentIndex) VALUES ($1, $2)
--     ON CONFLICT (source_tab) DO UPDATE SET currentIndex = EXCLUDED.currentIndex
CREATE TABLE IF NOT EXISTS flume_meta (
    source_tab VARCHAR(255) NOT NULL PRIMARY KEY,
    currentIndex VARCHAR(255) NOT NULL
);
