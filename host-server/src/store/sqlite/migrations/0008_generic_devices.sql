-- 8: generic devices (issue 18, the IoTFlow contract). A generic device is
-- a `devices` row (device_id `generic-N`, N its row id) with these fields
-- beside it; its readings are uploads (format 'generic') with one block
-- each, values as named channels (device_channels). Keys are stored as
-- SHA-256 digests. Client message ids make resends duplicates; the rate
-- windows count requests per device and minute.
CREATE TABLE generic_devices (
    device INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    device_type TEXT NOT NULL,
    status TEXT NOT NULL,
    hardware_version TEXT,
    config TEXT,
    updated_ms INTEGER NOT NULL,
    last_heartbeat_ms INTEGER
);
CREATE TABLE generic_keys (
    id INTEGER PRIMARY KEY,
    device INTEGER NOT NULL,
    key_hash BLOB NOT NULL UNIQUE,
    is_active INTEGER NOT NULL,
    expires_ms INTEGER,
    created_ms INTEGER NOT NULL,
    last_used_ms INTEGER,
    usage_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX generic_keys_device ON generic_keys(device);
CREATE TABLE generic_messages (
    device INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    upload INTEGER NOT NULL,
    PRIMARY KEY (device, message_id)
) WITHOUT ROWID;
CREATE TABLE generic_rate (
    device INTEGER NOT NULL,
    scope TEXT NOT NULL,
    window_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (device, scope)
) WITHOUT ROWID;
CREATE INDEX uploads_format_received ON uploads(format, received_ms);
