-- Access-controlled moderation records: the unmasked original of a masked or held message.
-- Never exported, never forwarded; readable only through the moderator API.
CREATE TABLE IF NOT EXISTS moderation_records (
    event_id    VARCHAR NOT NULL,
    message_id  VARCHAR NOT NULL,
    room_id     VARCHAR NOT NULL,
    user_id     VARCHAR NOT NULL,
    original    VARCHAR NOT NULL,
    recorded_at TIMESTAMPTZ NOT NULL
);
