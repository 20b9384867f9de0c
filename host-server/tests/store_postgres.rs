//! The storage conformance suite against the PostgreSQL backend: a fresh
//! database on this test process's own cluster (see `common/postgres.rs`).

mod conformance;
#[path = "common/postgres.rs"]
mod postgres;

use conformance::{Backend, T0, TestClock};
use solarwire_server::store::{StoreOptions, open_store};

/// A fresh database, its clock at `T0`.
fn postgres() -> Backend {
    let url = postgres::fresh_database();
    let clock = TestClock::at(T0);
    let options = StoreOptions {
        clock: clock.clock(),
        ..StoreOptions::command()
    };
    let store = open_store(&url, options).unwrap();
    Backend {
        store,
        clock,
        keep: Box::new(()),
    }
}

conformance_suite!(postgres);
