-- Forwarding state, stored with the log: one cursor per sink, a dead-letter table, and the
-- audit trail of user erasures (re-applied to everything forwarded or exported afterwards).
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

-- One row per erasure request. The subject is kept only as the SHA-256 of the user id: enough
-- to re-apply the erasure to events up to up_to_seq on a replay, not to print the id back.
CREATE TABLE IF NOT EXISTS erasures (
    erasure_id     VARCHAR PRIMARY KEY,
    subject_hash   VARCHAR NOT NULL,
    pseudonym      VARCHAR NOT NULL,
    up_to_seq      BIGINT NOT NULL,
    requested_by   VARCHAR NOT NULL,
    requested_at   TIMESTAMPTZ NOT NULL,
    rows_rewritten BIGINT NOT NULL,
    files          VARCHAR NOT NULL
);
