//! The one place a host's method name becomes an encoder call, with the
//! same default and the same argument checks on every host.

use alloc::vec::Vec;

use super::{TemporalState, bitpack, dictionary, semantic, smart, v2};
use crate::argument::ArgumentError;

/// The encoders a caller can ask for by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Encoder {
    /// The device's smart selection (the default).
    Smart,
    /// The temporal codec: a base, or a delta once the ring holds history.
    Temporal,
    /// Fixed-width values (`0x01`).
    BitPacked,
    /// Distinct values plus indices (`0xD0`).
    Dictionary,
    /// Semantic run-length encoding (`0x50`, lossy).
    SemanticRle,
    /// solarwire's codec v2 (`0xC2`, `docs/codec-v2.md`): its channels are
    /// the layout the register ids repeat.
    CodecV2,
}

impl Encoder {
    /// Every encoder.
    pub const ALL: [Self; 6] = [
        Self::Smart,
        Self::Temporal,
        Self::BitPacked,
        Self::Dictionary,
        Self::SemanticRle,
        Self::CodecV2,
    ];

    /// The stable name every host accepts.
    pub fn code(self) -> &'static str {
        match self {
            Self::Smart => "smart",
            Self::Temporal => "temporal",
            Self::BitPacked => "bit_packed",
            Self::Dictionary => "dictionary",
            Self::SemanticRle => "semantic_rle",
            Self::CodecV2 => "codec_v2",
        }
    }

    /// The encoder named `code`; `None` (the default, [`Encoder::Smart`])
    /// when the caller names none.
    ///
    /// # Errors
    /// `invalid_argument` for a name no encoder has.
    pub fn from_code(code: Option<&str>) -> Result<Self, ArgumentError> {
        match code {
            None => Ok(Self::Smart),
            Some(code) => Self::ALL
                .into_iter()
                .find(|e| e.code() == code)
                .ok_or(ArgumentError::UnknownMethod),
        }
    }

    /// Whether the encoder reads and advances the device's temporal ring.
    pub fn uses_state(self) -> bool {
        matches!(self, Self::Smart | Self::Temporal)
    }

    /// Whether the encoder needs every value's register id.
    pub fn needs_register_ids(self) -> bool {
        matches!(
            self,
            Self::Smart | Self::Temporal | Self::SemanticRle | Self::CodecV2
        )
    }

    /// Encodes one upload cycle's values as the device does. `state` is the
    /// device's ring for the encoders that use one (a freshly booted ring
    /// when `None`), and is advanced by them.
    ///
    /// # Errors
    /// `invalid_argument`: a register id count that differs from the value
    /// count where ids are needed, a state given to an encoder without one,
    /// or values codec v2 cannot hold (none, over 16 registers or 255 samples).
    pub fn encode(
        self,
        values: &[u16],
        register_ids: &[u8],
        state: Option<&mut TemporalState>,
    ) -> Result<Vec<u8>, ArgumentError> {
        if state.is_some() && !self.uses_state() {
            return Err(ArgumentError::UnusedState);
        }
        if self.needs_register_ids() && register_ids.len() != values.len() {
            return Err(ArgumentError::RegisterIds {
                values: values.len(),
                ids: register_ids.len(),
            });
        }
        let mut fresh = TemporalState::new();
        let state = state.unwrap_or(&mut fresh);
        Ok(match self {
            Self::Smart => smart::encode(values, register_ids, state),
            Self::Temporal => state.encode(values, register_ids),
            Self::BitPacked => bitpack::encode(values),
            Self::Dictionary => dictionary::encode(values),
            Self::SemanticRle => semantic::encode(values, register_ids),
            Self::CodecV2 => v2::encode_to_vec(values, layout_period(register_ids))
                .map_err(|e| ArgumentError::CodecV2(e.code()))?,
        })
    }
}

/// The channel count of per-value register ids: the shortest layout whose
/// repetition gives them (a layout holds distinct ids).
fn layout_period(ids: &[u8]) -> usize {
    (1..=ids.len())
        .find(|&p| {
            ids.len().is_multiple_of(p) && ids.iter().zip(ids.iter().skip(p)).all(|(a, b)| a == b)
        })
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_default_and_checks() {
        for e in Encoder::ALL {
            assert_eq!(Encoder::from_code(Some(e.code())), Ok(e));
        }
        assert_eq!(Encoder::from_code(None), Ok(Encoder::Smart));
        assert_eq!(
            Encoder::from_code(Some("zstd")),
            Err(ArgumentError::UnknownMethod)
        );
        let mut state = TemporalState::new();
        assert_eq!(
            Encoder::BitPacked.encode(&[1], &[], Some(&mut state)),
            Err(ArgumentError::UnusedState)
        );
        assert_eq!(
            Encoder::Temporal.encode(&[1, 2], &[0], None),
            Err(ArgumentError::RegisterIds { values: 2, ids: 1 })
        );
        assert!(Encoder::BitPacked.encode(&[1, 2], &[], None).is_ok());
    }
}
