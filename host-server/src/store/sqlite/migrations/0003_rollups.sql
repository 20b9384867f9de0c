-- 3: rollups maintained at ingest: 5-minute, hourly and daily tables (same
-- columns), with each bucket's first sample time. Rows are clustered by
-- time, so the rows a commit updates (each series' current bucket) share a
-- few pages; reads by device and register go through the series index.
-- Also each device's last value per register (where its next segment
-- starts), and a flag for the one-time roll-up of the samples already stored.
CREATE TABLE aggregates_5m_by_time (
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
    PRIMARY KEY (bucket_ms, device, register)
) WITHOUT ROWID;
INSERT INTO aggregates_5m_by_time
    SELECT device, register, bucket_ms, count, sum, min, max, last, last_t_ms, area, covered_ms,
           bucket_ms
    FROM aggregates_5m;
DROP TABLE aggregates_5m;
ALTER TABLE aggregates_5m_by_time RENAME TO aggregates_5m;
CREATE INDEX aggregates_5m_series ON aggregates_5m(device, register, bucket_ms);
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
    PRIMARY KEY (bucket_ms, device, register)
) WITHOUT ROWID;
CREATE INDEX aggregates_1h_series ON aggregates_1h(device, register, bucket_ms);
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
    PRIMARY KEY (bucket_ms, device, register)
) WITHOUT ROWID;
CREATE INDEX aggregates_1d_series ON aggregates_1d(device, register, bucket_ms);
ALTER TABLE devices ADD COLUMN rollup_tail BLOB;
INSERT INTO meta VALUES ('rollups_backfilled', 0);
