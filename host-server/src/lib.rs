//! # solarwire-server
//!
//! The solarwire ingest server and the `solarwire` command line. EcoWatt
//! devices (and anything speaking their envelope) upload here; the server
//! verifies, decodes and stores each upload durably before it answers, then
//! publishes it to WebSocket clients and MQTT.
//!
//! ```text
//!  request ─► limits ─► envelope ─► key ─► MAC ─► upload JSON ─► rate ─► writer thread ─────────► 200
//!             size,     structure  device  core   core           per      one transaction per batch:
//!             timeouts  (400)      (401)   (401)  (400)          device   replay (409), decode, store,
//!                                                                 (429)    commit, then answer
//! ```
//!
//! All parsing, crypto, replay decisions and decoding are the core's
//! (`solarwire-core`); this crate owns HTTP, keys, the clock, persistence
//! and the mapping of errors to HTTP.
#![forbid(unsafe_code)]

pub mod alerts;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod device_id;
pub mod duration;
pub mod fairness;
pub mod fota;
pub mod generic;
pub mod http;
pub mod ingest;
pub mod key_vault;
pub mod keys;
pub mod live;
pub mod manage;
pub mod mqtt;
pub mod mqtt_ingest;
pub mod overflow;
pub mod policy;
pub mod private_file;
pub mod query;
pub mod ratelimit;
pub mod readings;
pub mod rejections;
pub mod reply;
pub mod retention;
pub mod serve;
pub mod simulate;
pub mod site;
pub mod store;
pub mod telemetry;
pub mod weather;
pub mod wire_guard;
