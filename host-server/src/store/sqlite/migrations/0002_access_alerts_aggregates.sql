-- 2: users, refresh tokens, API keys, alert rules and alerts, 5-minute aggregates.
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);
-- Refresh tokens are stored as SHA-256 hashes. A family is one login; a
-- token is rotated (used_ms set) when exchanged, and presenting a rotated
-- token again revokes the whole family.
CREATE TABLE refresh_tokens (
    id INTEGER PRIMARY KEY,
    user INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    used_ms INTEGER,
    revoked_ms INTEGER
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family);
CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash BLOB NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'admin')),
    created_by TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER,
    revoked_ms INTEGER,
    last_used_ms INTEGER,
    uses INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE alert_rules (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('api', 'config')),
    device_id TEXT,
    kind TEXT NOT NULL,
    register INTEGER,
    threshold REAL,
    window_s INTEGER,
    enabled INTEGER NOT NULL DEFAULT 1,
    created_ms INTEGER NOT NULL
);
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    rule INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    opened_ms INTEGER NOT NULL,
    closed_ms INTEGER,
    value REAL,
    message TEXT NOT NULL
);
CREATE INDEX alerts_open ON alerts(closed_ms, rule, device_id);
CREATE INDEX alerts_device ON alerts(device_id, opened_ms);
-- One row per device, register and 5-minute bucket, made from raw samples
-- before retention deletes them. Values are converted (engineering units);
-- area is the trapezoid integral of the value over the bucket (unit·s) and
-- covered_ms the part of the bucket that integral spans.
CREATE TABLE aggregates_5m (
    device INTEGER NOT NULL,
    register INTEGER NOT NULL,
    bucket_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    sum REAL NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    last REAL NOT NULL,
    last_t_ms INTEGER NOT NULL,
    area REAL NOT NULL,
    covered_ms INTEGER NOT NULL,
    PRIMARY KEY (device, register, bucket_ms)
) WITHOUT ROWID;
CREATE INDEX uploads_received ON uploads(received_ms);
-- Fleet management: the expected upload period (offline = 3 periods without
-- an upload) and retirement (deleted but data kept; uploads refused).
ALTER TABLE devices ADD COLUMN upload_interval_s INTEGER;
ALTER TABLE devices ADD COLUMN retired_ms INTEGER;
