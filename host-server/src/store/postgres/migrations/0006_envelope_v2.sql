-- 6: envelope v2 (issue 17). Each device's envelope v2 keys: the current
-- key id and (sealed) secret and, during a rotation, the previous key with
-- the server time until which it stays valid. The replay ledger of envelope
-- v2 is its own: the last accepted 64-bit counter (kept with the same bits in
-- a signed column, compared in Rust) and its tag. Uploads sealed with
-- envelope v2 are stored under their counter (the nonce column stays the v1
-- nonce), so an identical resend finds its stored reply.
ALTER TABLE devices ADD COLUMN envelope_key_id BIGINT;
ALTER TABLE devices ADD COLUMN envelope_secret BYTEA;
ALTER TABLE devices ADD COLUMN envelope_prev_key_id BIGINT;
ALTER TABLE devices ADD COLUMN envelope_prev_secret BYTEA;
ALTER TABLE devices ADD COLUMN envelope_prev_until_ms BIGINT;
ALTER TABLE devices ADD COLUMN last_counter BIGINT;
ALTER TABLE devices ADD COLUMN last_tag BYTEA;
ALTER TABLE uploads ADD COLUMN counter BIGINT;
CREATE INDEX uploads_device_counter ON uploads(device, counter);
