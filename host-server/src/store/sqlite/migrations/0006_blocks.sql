-- 6: compact telemetry (issue 10). Samples are stored as blocks, one row per
-- upload and hour window, encoded by the backend-neutral block codec
-- (store/blocks.rs), indexed by device and time range. Block ids number the
-- blocks in commit order; the rollup watermark is the last block whose
-- samples the stored rollup rows hold (the writer keeps the rest in memory
-- and rebuilds it from the blocks past the watermark after a crash), and
-- devices.rollup_tail is each device's last values as of that watermark.
-- Named numeric channels (non-EcoWatt devices) get a per-device id here.
-- The per-sample rows of older databases are carried into blocks by the
-- server right after this migration (sqlite/blocks.rs), then dropped.
CREATE TABLE blocks (
    id INTEGER PRIMARY KEY,
    device INTEGER NOT NULL,
    t_first INTEGER NOT NULL,
    t_last INTEGER NOT NULL,
    upload INTEGER NOT NULL,
    samples INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX blocks_device_time ON blocks(device, t_first, t_last);
-- Blocks past the watermark whose rollups are already stored: written by a
-- second writer (a CLI command while the server runs), which stores its
-- rollups in its own commits; the rebuild skips them.
CREATE TABLE blocks_rolled (id INTEGER PRIMARY KEY);
CREATE TABLE device_channels (
    device INTEGER NOT NULL,
    id INTEGER NOT NULL,
    name TEXT NOT NULL,
    unit TEXT,
    PRIMARY KEY (device, id),
    UNIQUE (device, name)
) WITHOUT ROWID;
INSERT INTO meta VALUES ('rollup_watermark', 0);
