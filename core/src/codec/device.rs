//! The codec module of a build without `alloc` (a device): codec v2 only
//! (`docs/codec-v2.md`) and the codec's errors. With `alloc`, `codec/mod.rs`
//! is the module and holds these too.

#[path = "error.rs"]
mod error;
#[path = "v2/mod.rs"]
pub mod v2;

pub use error::CodecError;
