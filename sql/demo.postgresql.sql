-- Demo schema for PostgreSQL.
CREATE TABLE IF NOT EXISTS customers (
    id BIGINT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    balance NUMERIC(12, 2) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    active BOOLEAN NOT NULL DEFAULT true,
    avatar BYTEA NULL
);
INSERT INTO customers (id, name, balance, created_at, active, avatar) VALUES
    (1, 'Ada', 12.50, '2026-01-01 10:00:00+00', true, NULL),
    (2, 'Grace "Amazing" Hopper', 99.99, '2026-01-01 10:00:01.25+00', false, '\x00ff'),
    (7, 'Zoë', 0.01, '2026-01-02 00:00:00+01', true, NULL)
ON CONFLICT DO NOTHING;
