-- Demo schema for MySQL/MariaDB: an orders table with gaps in its ids and a few tricky values.
CREATE TABLE IF NOT EXISTS orders (
    id BIGINT NOT NULL PRIMARY KEY,
    customer VARCHAR(64) NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    note VARCHAR(200) NULL
) CHARACTER SET utf8mb4;
INSERT INTO orders (id, customer, amount, created_at, note) VALUES
    (1, 'Ada', 12.50, '2026-01-01 10:00:00.000', NULL),
    (2, 'Grace "Amazing" Hopper', 99.99, '2026-01-01 10:00:01.250', 'quoted, with comma'),
    (5, 'Zoë', 0.01, '2026-01-02 00:00:00.000', 'emoji 🚀 and a\nnewline'),
    (40, 'Linus', 123456789.00, '2026-01-03 08:30:00.000', NULL);
