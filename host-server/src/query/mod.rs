//! Analytics over stored samples: aligned series, energy with explicit
//! gaps, device status, calendar buckets and CSV. The arithmetic here is
//! pure; the HTTP layer reads the store and feeds it.

pub mod buckets;
pub mod calendar;
pub mod csv;
pub mod energy;
pub mod series;
pub mod status;
