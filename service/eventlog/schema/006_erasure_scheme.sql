-- How an erasure's subject_hash and pseudonym were made. Rows recorded before this column
-- existed hold the unkeyed SHA-256 of the user id ('sha256'); new ones an HMAC-SHA256 under
-- the erasure key ('hmac-sha256') that key_id names (a hash of the key, not the key).
ALTER TABLE erasures ADD COLUMN scheme VARCHAR DEFAULT 'sha256';
ALTER TABLE erasures ADD COLUMN key_id VARCHAR DEFAULT '';
