-- Status (offset) table of the SQL sources on MySQL/MariaDB: one row per source, holding the
-- last delivered value of its incremental column as text. Compatible with the table the seed
-- agent created (same columns); the agent creates it itself when missing (status_table_ddl in
-- connectors/mysql/mysql_sql.h holds the same statement) and writes it with an idempotent upsert:
--   INSERT INTO flume_meta (source_tab, currentIndex) VALUES (?, ?)
--     ON DUPLICATE KEY UPDATE currentIndex = VALUES(currentIndex)
-- The binary collation keeps source names case-sensitive.
CREATE TABLE IF NOT EXISTS flume_meta (
    source_tab VARCHAR(255) NOT NULL PRIMARY KEY,
    currentIndex VARCHAR(255) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
