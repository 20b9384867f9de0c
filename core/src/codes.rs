//! The stable error codes. Every error type declares its codes once, in the
//! table that also writes its `code()`, and [`ALL_ERROR_CODES`] is their union
//! (a unit test proves it).

/// Implements `CODES` and `code()` for an error enum from one table of
/// `pattern => "code"` arms; `wraps` names variants that hold another core
/// error and report its code.
macro_rules! error_codes {
    ($ty:ty { $($pat:pat => $code:literal),* $(,)? } $(wraps $($wrap:ident),+)?) => {
        impl $ty {
            /// The codes of this type's own variants (a wrapped error lists its own).
            pub const CODES: &'static [&'static str] = &[$($code),*];

            /// The stable error code shared by every host.
            pub fn code(&self) -> &'static str {
                match self {
                    $($pat => $code,)*
                    $($(Self::$wrap(e) => e.code(),)+)?
                }
            }
        }
    };
}

/// Every error code any operation of the core can report: the union of the
/// `CODES` of [`EnvelopeError`](crate::EnvelopeError),
/// [`ReplayError`](crate::ReplayError), [`UploadError`](crate::UploadError),
/// [`CodecError`](crate::CodecError), [`UnitError`](crate::UnitError),
/// [`ArgumentError`](crate::ArgumentError) and
/// [`EnvelopeV2Error`](crate::envelope_v2::EnvelopeV2Error).
/// Hosts and vectors use exactly these strings.
pub const ALL_ERROR_CODES: [&str; 22] = [
    "malformed",
    "bad_base64",
    "bad_mac_encoding",
    "mac_mismatch",
    "replay",
    "decrypt_failed",
    "missing_key",
    "truncated",
    "unknown_marker",
    "bad_header",
    "missing_state",
    "too_large",
    "unknown_register",
    "out_of_range",
    "unknown_profile",
    "invalid_catalog",
    "invalid_argument",
    "clock_skew",
    "device_mismatch",
    "time_out_of_window",
    "timestamp_in_seconds",
    "duplicate_sample",
];

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeSet;

    use super::ALL_ERROR_CODES;
    use crate::{
        ArgumentError, CodecError, EnvelopeError, OpenError, ReplayError, UnitError, UploadError,
    };

    #[test]
    fn the_exported_list_is_exactly_the_union_of_every_error_type() {
        let listed: BTreeSet<&str> = ALL_ERROR_CODES.into_iter().collect();
        assert_eq!(
            listed.len(),
            ALL_ERROR_CODES.len(),
            "a code is listed twice"
        );
        let union: BTreeSet<&str> = [
            EnvelopeError::CODES,
            ReplayError::CODES,
            OpenError::CODES,
            UploadError::CODES,
            CodecError::CODES,
            UnitError::CODES,
            ArgumentError::CODES,
            crate::envelope_v2::EnvelopeV2Error::CODES,
        ]
        .concat()
        .into_iter()
        .collect();
        assert_eq!(listed, union);
    }

    #[test]
    fn a_wrapped_error_reports_the_inner_code() {
        let e = UploadError::from(CodecError::UnknownMarker(7));
        assert_eq!(e.code(), "unknown_marker");
        assert!(UnitError::CODES.contains(&UnitError::UnknownProfile.code()));
    }
}
