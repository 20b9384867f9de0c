-- 4: generic devices (issue 18, the IoTFlow contract). A generic device is
-- a `devices` row (device_id `generic-N`, N its row id) with these fields
-- beside it; its readings are uploads (format 'generic') with one sample
-- row each, whose named channel values are the telemetry block codec's
-- encoding of the sample (store/blocks.rs) in `samples.named`. Keys are
-- stored as SHA-256 digests. Client message ids make resends duplicates;
-- the rate windows count requests per device and minute, shared by every
-- server on the database.
CREATE TABLE device_channels (
    device BIGINT NOT NULL,
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    unit TEXT,
    PRIMARY KEY (device, id),
    UNIQUE (device, name)
);
ALTER TABLE samples ADD COLUMN named BYTEA;
CREATE TABLE generic_devices (
    device BIGINT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    device_type TEXT NOT NULL,
    status TEXT NOT NULL,
    hardware_version TEXT,
    config TEXT,
    updated_ms BIGINT NOT NULL,
    last_heartbeat_ms BIGINT
);
CREATE TABLE generic_keys (
    id BIGSERIAL PRIMARY KEY,
    device BIGINT NOT NULL,
    key_hash BYTEA NOT NULL UNIQUE,
    is_active BOOLEAN NOT NULL,
    expires_ms BIGINT,
    created_ms BIGINT NOT NULL,
    last_used_ms BIGINT,
    usage_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX generic_keys_device ON generic_keys (device);
CREATE TABLE generic_messages (
    device BIGINT NOT NULL,
    message_id TEXT NOT NULL,
    upload BIGINT NOT NULL,
    PRIMARY KEY (device, message_id)
);
CREATE TABLE generic_rate (
    device BIGINT NOT NULL,
    scope TEXT NOT NULL,
    window_ms BIGINT NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (device, scope)
);
CREATE INDEX uploads_format_received ON uploads (format, received_ms);
