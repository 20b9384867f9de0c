//! When a call releases the GIL. Releasing and retaking it costs about
//! 100 ns, as much as decoding a small packet, so only work on inputs large
//! enough to take microseconds runs detached; other threads run meanwhile.

use pyo3::Python;
use pyo3::marker::Ungil;

/// Input size in bytes from which a call releases the GIL.
const RELEASE_FROM: usize = 1024;

/// Runs `work` on `input_len` bytes of input, without the GIL when large.
pub(crate) fn run<T: Ungil>(
    py: Python<'_>,
    input_len: usize,
    work: impl Ungil + FnOnce() -> T,
) -> T {
    if input_len >= RELEASE_FROM {
        py.detach(work)
    } else {
        work()
    }
}
