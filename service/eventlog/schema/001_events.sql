-- The append-only event log. One row per event; rows are never updated or deleted
-- (the only sanctioned rewrite is the audited erasure job, which works on the warehouse).
CREATE TABLE IF NOT EXISTS log_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
    seq            BIGINT NOT NULL,
    event_id       VARCHAR NOT NULL,
    epoch          VARCHAR NOT NULL,
    node_id        VARCHAR NOT NULL,
    schema_version SMALLINT NOT NULL,
    event_type     VARCHAR NOT NULL,
    occurred_at    TIMESTAMPTZ NOT NULL,
    user_id        VARCHAR NOT NULL,
    room_id        VARCHAR NOT NULL,
    context_id     VARCHAR NOT NULL,
    actor_id       VARCHAR,
    message_id     VARCHAR,
    device         VARCHAR,
    language       VARCHAR,
    message_type   VARCHAR,
    app_version    VARCHAR,
    session_id     VARCHAR,
    payload        VARCHAR NOT NULL
);
