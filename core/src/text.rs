//! The text encodings of the wire: strict padded base64 (RFC 4648 §4, the
//! firmware's `mbedtls_base64`) and UTF-8 validation, both on SIMD paths —
//! together they were a third of the time to process an upload.
//!
//! Without the crate's `std` feature the SIMD width is what the target was
//! compiled for; with it, the CPU is probed once at run time.

use alloc::string::String;
use alloc::vec::Vec;

/// Decodes strict padded standard base64: no whitespace, no missing or
/// extra padding, no non-zero trailing bits. `None` when invalid.
pub(crate) fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    base64_simd::STANDARD.decode_to_vec(text).ok()
}

/// Encodes as padded standard base64.
pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// The bytes as text, when they are valid UTF-8.
pub(crate) fn utf8(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}
