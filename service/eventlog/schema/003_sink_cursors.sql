-- Forwarding state, stored with the log: one cursor per sink, and a dead-letter table.
CREATE TABLE IF NOT EXISTS sink_cursors (
    sink       VARCHAR PRIMARY KEY,
    seq        BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS dead_letters (
    sink       VARCHAR NOT NULL,
    seq        BIGINT NOT NULL,
    event_id   VARCHAR NOT NULL,
    reason     VARCHAR NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL
);
