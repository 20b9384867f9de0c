-- 3: device management (issue 14): firmware images and their 2048-byte
-- encrypted chunks, rollouts, OTA sessions and history, remote
-- configuration, commands, and fault / energy / diagnostic reports.
-- Device ids are stored as text, like alerts.device_id.
CREATE TABLE firmware_images (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    notes TEXT NOT NULL,
    original_size INTEGER NOT NULL,
    encrypted_size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    signature BLOB NOT NULL,
    iv BLOB NOT NULL,
    chunk_size INTEGER NOT NULL,
    total_chunks INTEGER NOT NULL,
    created_ms INTEGER NOT NULL
);
-- One row per chunk, so a chunk request reads 2 KiB, never the whole image.
CREATE TABLE firmware_chunks (
    image INTEGER NOT NULL REFERENCES firmware_images(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (image, idx)
);
-- At most one rollout per image; `devices` is a JSON list, else `percent`.
CREATE TABLE rollouts (
    image INTEGER PRIMARY KEY REFERENCES firmware_images(id) ON DELETE CASCADE,
    state TEXT NOT NULL CHECK (state IN ('active', 'paused', 'cancelled')),
    devices TEXT,
    percent INTEGER,
    max_failures INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    reason TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE ota_sessions (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    version TEXT NOT NULL,
    state TEXT NOT NULL,
    progress INTEGER NOT NULL DEFAULT 0,
    started_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX ota_sessions_device ON ota_sessions(device_id, id);
CREATE TABLE ota_events (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    version TEXT,
    kind TEXT NOT NULL,
    detail TEXT,
    at_ms INTEGER NOT NULL
);
CREATE INDEX ota_events_device ON ota_events(device_id, id);
CREATE TABLE device_config (
    device_id TEXT PRIMARY KEY,
    running TEXT,
    reported_ms INTEGER,
    pending TEXT,
    pending_ms INTEGER
) WITHOUT ROWID;
CREATE TABLE config_history (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    event TEXT NOT NULL,
    body TEXT NOT NULL,
    at_ms INTEGER NOT NULL
);
CREATE INDEX config_history_device ON config_history(device_id, id);
CREATE TABLE commands (
    id INTEGER PRIMARY KEY,
    command_id TEXT NOT NULL UNIQUE,
    device_id TEXT NOT NULL,
    command TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'dispatched', 'completed', 'failed', 'expired')),
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    dispatched_ms INTEGER,
    finished_ms INTEGER,
    executed_at TEXT
);
CREATE INDEX commands_device ON commands(device_id, state, id);
CREATE TABLE device_reports (
    id INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('fault', 'energy', 'diagnostics')),
    at_ms INTEGER NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX device_reports_device ON device_reports(device_id, kind, id);
