//! The storage conformance suite against the SQLite backend.

mod conformance;

use conformance::{Backend, T0, TestClock};
use solarwire_server::store::{StoreOptions, data_dir_url, open_store};

/// A fresh database in a temporary directory, its clock at `T0`.
fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let clock = TestClock::at(T0);
    let options = StoreOptions {
        clock: clock.clock(),
        ..StoreOptions::command()
    };
    let store = open_store(&data_dir_url(dir.path()), options).unwrap();
    Backend {
        store,
        clock,
        keep: Box::new(dir),
    }
}

conformance_suite!(sqlite);

/// Rollups the writer had not flushed when the process died are rebuilt
/// from the blocks past the watermark at the next start, identical to what
/// the running store answered. The "crash" is a copy of the database files
/// taken while the first store runs (what SIGKILL would leave on disk).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_rollups_are_rebuilt_after_a_crash() {
    use conformance::{Sender, own_keys};
    use solarwire_server::store::sqlite::database_path;
    use solarwire_server::store::telemetry::Level;

    let running = sqlite();
    let store = &running.store;
    assert!(store.add_device("D1", own_keys(1)).await.unwrap());
    let mut d = Sender::new("D1");
    for n in 1..=30 {
        assert!(store.ingest(d.job(n, 1)).await.is_ok());
    }
    let horizon = T0 + Level::Day.ms();
    let mut answered = Vec::new();
    for register in [0, 9] {
        for level in Level::ALL {
            answered.push(
                store
                    .aggregates("D1", register, level, 0, horizon)
                    .await
                    .unwrap(),
            );
        }
    }
    assert!(answered.iter().all(|rows| !rows.is_empty()));

    let dir = running
        .keep
        .downcast_ref::<tempfile::TempDir>()
        .expect("a temporary directory");
    let copy = tempfile::tempdir().unwrap();
    let from = database_path(dir.path());
    let to = database_path(copy.path());
    for suffix in ["", "-wal"] {
        let name = |p: &std::path::Path| format!("{}{suffix}", p.display());
        std::fs::copy(name(&from), name(&to)).unwrap();
    }
    // Flushes come every 10 s: on any but a very slow machine, the copy
    // holds blocks past the watermark and no rollup rows at all.
    let (mark, last): (i64, i64) = rusqlite::Connection::open(&to)
        .unwrap()
        .query_row(
            "SELECT (SELECT value FROM meta WHERE key = 'rollup_watermark'),
                    (SELECT MAX(id) FROM blocks)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(last > 0 && mark <= last);

    let options = StoreOptions {
        clock: TestClock::at(T0).clock(),
        ..StoreOptions::command()
    };
    let reopened = open_store(&data_dir_url(copy.path()), options).unwrap();
    let mut rebuilt = Vec::new();
    for register in [0, 9] {
        for level in Level::ALL {
            rebuilt.push(
                reopened
                    .aggregates("D1", register, level, 0, horizon)
                    .await
                    .unwrap(),
            );
        }
    }
    assert_eq!(rebuilt, answered);
    // And ingest continues from the rebuilt tails: one more upload joins on.
    assert!(reopened.ingest(d.job(31, 1)).await.is_ok());
    let hour = reopened
        .aggregates("D1", 9, Level::Hour, 0, horizon)
        .await
        .unwrap();
    assert_eq!(hour.iter().map(|a| a.count).sum::<u64>(), 93);
    let covered: u64 = hour.iter().map(|a| a.covered_ms).sum();
    assert_eq!(covered, 92 * 5000);
}
