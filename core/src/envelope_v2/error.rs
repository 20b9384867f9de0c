use core::fmt;

/// Why an envelope v2 was refused, or could not be sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeV2Error {
    /// Not of the envelope's structure (length, version, content byte).
    Malformed {
        /// The part at fault.
        field: &'static str,
    },
    /// Over the size limit (opening), or the output buffer is too small (sealing).
    TooLarge {
        /// The size that was needed or refused.
        len: usize,
    },
    /// No valid key with the envelope's key id.
    MissingKey,
    /// The tag does not match (forged, corrupted or wrong key).
    MacMismatch,
    /// Authenticated, but the PKCS#7 padding is invalid.
    DecryptFailed,
    /// The device time is outside the skew window around the server's time.
    ClockSkew,
    /// The counter is not greater than the last accepted one.
    Replay {
        /// The last accepted counter.
        last: u64,
        /// The counter received.
        got: u64,
    },
}

error_codes!(EnvelopeV2Error {
    Self::Malformed { .. } => "malformed",
    Self::TooLarge { .. } => "too_large",
    Self::MissingKey => "missing_key",
    Self::MacMismatch => "mac_mismatch",
    Self::DecryptFailed => "decrypt_failed",
    Self::ClockSkew => "clock_skew",
    Self::Replay { .. } => "replay",
});

impl fmt::Display for EnvelopeV2Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { field } => write!(f, "malformed envelope v2: {field}"),
            Self::TooLarge { len } => write!(f, "envelope v2 size {len} is over the limit"),
            Self::MissingKey => f.write_str("no valid key with the envelope's key id"),
            Self::MacMismatch => f.write_str("tag does not match the envelope"),
            Self::DecryptFailed => f.write_str("authenticated payload has invalid padding"),
            Self::ClockSkew => f.write_str("device time is outside the accepted clock skew"),
            Self::Replay { last, got } => write!(
                f,
                "counter {got} is not greater than the last accepted counter {last}"
            ),
        }
    }
}

impl core::error::Error for EnvelopeV2Error {}
