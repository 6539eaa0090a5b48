-- One dead letter per (sink, seq): replaying a range used to record a second row for every
-- event that already had one, doubling the counts. Forwarding state, not the event log: the
-- table is rebuilt with a primary key, keeping the earliest row of each (sink, seq).
CREATE TABLE dead_letters_unique (
    sink       VARCHAR NOT NULL,
    seq        BIGINT NOT NULL,
    event_id   VARCHAR NOT NULL,
    reason     VARCHAR NOT NULL,
    failed_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (sink, seq)
);

INSERT INTO dead_letters_unique
SELECT sink, seq, event_id, reason, failed_at FROM dead_letters
QUALIFY row_number() OVER (PARTITION BY sink, seq ORDER BY failed_at, rowid) = 1;

DROP TABLE dead_letters;

ALTER TABLE dead_letters_unique RENAME TO dead_letters;
