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
