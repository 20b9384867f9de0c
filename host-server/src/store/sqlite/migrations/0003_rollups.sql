-- 3: rollups maintained at ingest. Hourly and daily tables beside the
-- 5-minute one (same columns), each bucket's first sample time, each
-- device's last value per register (where its next segment starts), and a
-- flag for the one-time roll-up of the samples already stored.
ALTER TABLE aggregates_5m ADD COLUMN first_t_ms INTEGER NOT NULL DEFAULT 0;
UPDATE aggregates_5m SET first_t_ms = bucket_ms;
CREATE TABLE aggregates_1h (
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
    first_t_ms INTEGER NOT NULL,
    PRIMARY KEY (device, register, bucket_ms)
) WITHOUT ROWID;
CREATE TABLE aggregates_1d (
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
    first_t_ms INTEGER NOT NULL,
    PRIMARY KEY (device, register, bucket_ms)
) WITHOUT ROWID;
ALTER TABLE devices ADD COLUMN rollup_tail BLOB;
INSERT INTO meta VALUES ('rollups_backfilled', 0);
