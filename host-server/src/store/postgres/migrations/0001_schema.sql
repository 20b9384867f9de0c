-- 1: the whole schema of the SQLite backend's migrations 1-4, in
-- PostgreSQL's types: times are Unix ms (BIGINT), keys and bodies BYTEA.
CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
INSERT INTO meta VALUES ('device_epoch', 0);

CREATE TABLE devices (
    id BIGSERIAL PRIMARY KEY,
    device_id TEXT NOT NULL UNIQUE,
    hmac_key BYTEA,
    aes_key BYTEA,
    created_ms BIGINT NOT NULL,
    name TEXT,
    firmware_version TEXT,
    location TEXT,
    description TEXT,
    -- The replay ledger: locked (FOR UPDATE) by the ingest transaction.
    last_nonce BIGINT,
    last_mac BYTEA,
    stream_state BYTEA,
    rollup_tail BYTEA,
    last_seen_ms BIGINT,
    uploads BIGINT NOT NULL DEFAULT 0,
    duplicates BIGINT NOT NULL DEFAULT 0,
    samples BIGINT NOT NULL DEFAULT 0,
    upload_interval_s BIGINT,
    retired_ms BIGINT
);

-- Ids come from the sequence: a batch reserves them before it decides.
CREATE SEQUENCE uploads_id_seq;
CREATE TABLE uploads (
    id BIGINT PRIMARY KEY,
    device BIGINT NOT NULL,
    nonce BIGINT,
    received_ms BIGINT NOT NULL,
    format TEXT NOT NULL,
    body BYTEA NOT NULL,
    report TEXT NOT NULL
);
ALTER SEQUENCE uploads_id_seq OWNED BY uploads.id;
CREATE INDEX uploads_device_nonce ON uploads (device, nonce);
CREATE INDEX uploads_received ON uploads (received_ms);

-- One row per sample, as in SQLite; registers are (id << 16) | raw value,
-- in layout order; pos is the sample's place in its upload.
CREATE TABLE samples (
    device BIGINT NOT NULL,
    t_ms BIGINT NOT NULL,
    upload BIGINT NOT NULL,
    pos INTEGER NOT NULL,
    packet INTEGER NOT NULL,
    flags SMALLINT NOT NULL,
    registers INTEGER[] NOT NULL
);
CREATE INDEX samples_device_time ON samples (device, t_ms);
CREATE INDEX samples_upload ON samples (upload);

CREATE TABLE device_codecs (
    device BIGINT NOT NULL,
    method TEXT NOT NULL,
    packets BIGINT NOT NULL,
    failed BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    original_bytes BIGINT NOT NULL,
    PRIMARY KEY (device, method)
);

CREATE TABLE aggregates_5m (
    device BIGINT NOT NULL,
    register SMALLINT NOT NULL,
    bucket_ms BIGINT NOT NULL,
    count BIGINT NOT NULL,
    sum DOUBLE PRECISION NOT NULL,
    min DOUBLE PRECISION NOT NULL,
    max DOUBLE PRECISION NOT NULL,
    last DOUBLE PRECISION NOT NULL,
    last_t_ms BIGINT NOT NULL,
    area DOUBLE PRECISION NOT NULL,
    covered_ms BIGINT NOT NULL,
    first_t_ms BIGINT NOT NULL,
    PRIMARY KEY (device, register, bucket_ms)
);
CREATE INDEX aggregates_5m_time ON aggregates_5m (bucket_ms);
CREATE TABLE aggregates_1h (LIKE aggregates_5m INCLUDING ALL);
CREATE TABLE aggregates_1d (LIKE aggregates_5m INCLUDING ALL);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash TEXT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE refresh_tokens (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    used_ms BIGINT,
    revoked_ms BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE TABLE api_keys (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    key_hash BYTEA NOT NULL UNIQUE,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'admin')),
    created_by TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT,
    revoked_ms BIGINT,
    last_used_ms BIGINT,
    uses BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE alert_rules (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('api', 'config')),
    device_id TEXT,
    kind TEXT NOT NULL,
    register SMALLINT,
    threshold DOUBLE PRECISION,
    window_s BIGINT,
    created_ms BIGINT NOT NULL
);
CREATE TABLE alerts (
    id BIGSERIAL PRIMARY KEY,
    rule BIGINT NOT NULL,
    device_id TEXT NOT NULL,
    opened_ms BIGINT NOT NULL,
    closed_ms BIGINT,
    value DOUBLE PRECISION,
    message TEXT NOT NULL
);
CREATE INDEX alerts_open ON alerts (closed_ms, rule, device_id);
CREATE INDEX alerts_device ON alerts (device_id, opened_ms);

CREATE TABLE firmware_images (
    id BIGSERIAL PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    notes TEXT NOT NULL,
    original_size BIGINT NOT NULL,
    encrypted_size BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    signature BYTEA NOT NULL,
    iv BYTEA NOT NULL,
    chunk_size BIGINT NOT NULL,
    total_chunks BIGINT NOT NULL,
    created_ms BIGINT NOT NULL
);
CREATE TABLE firmware_chunks (
    image BIGINT NOT NULL REFERENCES firmware_images (id) ON DELETE CASCADE,
    idx BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (image, idx)
);
CREATE TABLE rollouts (
    image BIGINT PRIMARY KEY REFERENCES firmware_images (id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'cancelled')),
    devices TEXT,
    percent SMALLINT,
    max_failures BIGINT NOT NULL,
    failures BIGINT NOT NULL DEFAULT 0,
    reason TEXT,
    created_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE TABLE ota_sessions (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    progress SMALLINT NOT NULL DEFAULT 0,
    started_ms BIGINT NOT NULL,
    updated_ms BIGINT NOT NULL
);
CREATE INDEX ota_sessions_device ON ota_sessions (device_id, id);
CREATE TABLE ota_events (
    id BIGSERIAL PRIMARY KEY,
    device_id TEXT NOT NULL,
    version TEXT,
    kind TEXT NOT NULL,
    detail TEXT,
    at_ms BIGINT NOT NULL
);
CREATE INDEX ota_events_device ON ota_events (device_id, id);

CREATE TABLE device_config (
    device_id TEXT PRIMARY KEY,
    running TEXT,
    reported_ms BIGINT,
    pending TEXT,
    pending_ms BIGINT
);
CREATE TABLE config_history (
    id BIGSERIAL PRIMARY KEY,
    device_id TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    at_ms BIGINT NOT NULL
);
CREATE INDEX config_history_device ON config_history (device_id, id);
CREATE TABLE commands (
    id BIGSERIAL PRIMARY KEY,
    command_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    command TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'dispatched', 'completed', 'failed', 'expired')),
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL,
    dispatched_ms BIGINT,
    finished_ms BIGINT,
    executed_at TEXT
);
CREATE INDEX commands_device ON commands (device_id, state, id);
CREATE TABLE device_reports (
    id BIGSERIAL PRIMARY KEY,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('fault', 'energy', 'diagnostics')),
    at_ms BIGINT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX device_reports_device ON device_reports (device_id, kind, id);
