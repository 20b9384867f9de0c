use core::fmt;

/// Why an envelope was refused before any replay decision.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Not a JSON object of the envelope's shape.
    Malformed {
        /// The field (or `json`) at fault.
        field: &'static str,
    },
    /// `payload` is not strict, padded, standard base64.
    BadBase64,
    /// `mac` is not exactly 64 lowercase hex digits.
    BadMacEncoding,
    /// The MAC does not match (forged, corrupted or wrong key).
    MacMismatch,
    /// The ciphertext is not whole blocks or its padding is invalid.
    DecryptFailed,
    /// The envelope is encrypted but no AES key was given.
    MissingKey,
}

error_codes!(EnvelopeError {
    Self::Malformed { .. } => "malformed",
    Self::BadBase64 => "bad_base64",
    Self::BadMacEncoding => "bad_mac_encoding",
    Self::MacMismatch => "mac_mismatch",
    Self::DecryptFailed => "decrypt_failed",
    Self::MissingKey => "missing_key",
});

impl fmt::Display for EnvelopeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Malformed { field } => write!(f, "malformed envelope: {field}"),
            Self::BadBase64 => f.write_str("payload is not valid base64"),
            Self::BadMacEncoding => f.write_str("mac is not 64 lowercase hex digits"),
            Self::MacMismatch => f.write_str("MAC does not match the payload"),
            Self::DecryptFailed => f.write_str("payload could not be decrypted"),
            Self::MissingKey => f.write_str("payload is encrypted but no AES key is configured"),
        }
    }
}

impl core::error::Error for EnvelopeError {}
