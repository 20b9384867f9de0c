//! The shared vector runner ([`solarwire_spec::evaluate`]) as a plain-ABI
//! wasm32 module, with no wasm-bindgen and no imports.
//!
//! The host (`spec-tests/tests/wasm_guest.rs`, under wasmtime) reserves a
//! buffer with [`alloc`], copies one vector file's text into it, calls
//! [`evaluate`], reads the JSON answer at the pointer and length it returns,
//! and frees both buffers with [`dealloc`]. The answer is
//! `{"verdicts": "<one line per vector>", "passed": N, "failures": [{"id", "comment", "failure"}]}`
//! or `{"file_error": "<why the file cannot run>"}`, built from the same
//! [`Report`](solarwire_spec::Report) the native run prints.
//!
//! These exports are the workspace's only hand-written `unsafe`.

use serde_json::{Value, json};

/// Reserves `len` bytes for the host to write into; free them with [`dealloc`].
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    Box::into_raw(vec![0u8; len].into_boxed_slice()).cast()
}

/// Frees a buffer returned by [`alloc`] or [`evaluate`].
///
/// # Safety
/// `ptr` and `len` must be exactly those of one buffer from [`alloc`] or
/// [`evaluate`] that has not been freed yet.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dealloc(ptr: *mut u8, len: usize) {
    // SAFETY: by the contract above, `(ptr, len)` is a boxed slice this module
    // leaked with `Box::into_raw` and still owns, so it is reclaimed once.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

/// Runs every vector of the file in `ptr..ptr + len` and returns the JSON
/// answer as `pointer << 32 | length` (wasm32 addresses fit 32 bits); the
/// host frees it with [`dealloc`]. The input buffer stays the host's to free.
///
/// # Safety
/// `ptr..ptr + len` must be a live buffer from [`alloc`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evaluate(ptr: *const u8, len: usize) -> u64 {
    // SAFETY: by the contract above the bytes are a live, initialised
    // allocation of this module that nothing mutates during this call.
    let file = unsafe { std::slice::from_raw_parts(ptr, len) };
    let answer = Box::into_raw(answer(file).to_string().into_bytes().into_boxed_slice());
    ((answer.cast::<u8>() as usize as u64) << 32) | answer.len() as u64
}

/// The verdicts on one vector file, or why it cannot run.
fn answer(file: &[u8]) -> Value {
    let report = std::str::from_utf8(file)
        .map_err(|e| format!("not UTF-8: {e}"))
        .and_then(|text| solarwire_spec::evaluate(text).map_err(|e| e.to_string()));
    match report {
        Ok(report) => json!({
            "verdicts": report.verdicts(),
            "passed": report.passed(),
            "failures": report
                .failed()
                .map(|c| json!({ "id": c.id, "comment": c.comment, "failure": c.failure }))
                .collect::<Vec<_>>(),
        }),
        Err(e) => json!({ "file_error": e }),
    }
}
