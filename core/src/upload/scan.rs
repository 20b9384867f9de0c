//! A reader for the upload JSON of the device's shape (spec §6.1) that
//! locates its fields eight bytes at a time and borrows every string.
//!
//! Like the envelope's device-form reader it only ever *accepts*: an escape
//! in a string, a number that is not a plain integer where one is read, a
//! repeated field, an exponent or very deep nesting anywhere — any input it
//! is not certain to read exactly as serde would — is left to the serde
//! reader, which also reports every error. A property test checks the two
//! agree on arbitrary input.

use alloc::borrow::Cow;
use alloc::vec::Vec;

use super::wire::{DevicePacket, DeviceUpload, Metadata};

/// Nesting deeper than this is left to serde (whose limit is 128).
const MAX_DEPTH: u32 = 64;

/// Reads `json` (already valid UTF-8) when it has the device's shape.
pub(super) fn device_upload(json: &str) -> Option<DeviceUpload<'_>> {
    let mut c = Cursor {
        text: json,
        pos: 0,
        depth: 0,
    };
    let mut out = DeviceUpload {
        device_id: None,
        timestamp: None,
        sampling_interval: None,
        register_mapping: None,
        compressed_data: Vec::new(),
    };
    let mut seen = Seen::default();
    let mut packets = None;
    c.object(|c, key| {
        match key {
            "device_id" => {
                seen.first(0)?;
                out.device_id = c.nullable(Cursor::string)?.map(Cow::Borrowed);
            }
            "timestamp" => {
                seen.first(1)?;
                out.timestamp = c.nullable(Cursor::integer)?;
            }
            "sampling_interval" => {
                seen.first(2)?;
                out.sampling_interval = c.nullable(|c| u32::try_from(c.integer()?).ok())?;
            }
            "register_mapping" => {
                seen.first(3)?;
                out.register_mapping = c.nullable(Cursor::raw)?;
            }
            "compressed_data" => {
                seen.first(4)?;
                let mut list = Vec::new();
                c.array(|c| {
                    list.push(packet(c)?);
                    Some(())
                })?;
                packets = Some(list);
            }
            _ => c.skip()?,
        }
        Some(())
    })?;
    c.end()?;
    out.compressed_data = packets?;
    Some(out)
}

fn packet<'a>(c: &mut Cursor<'a>) -> Option<DevicePacket<'a>> {
    let mut seen = Seen::default();
    let mut binary = None;
    let mut metadata = None;
    c.object(|c, key| {
        match key {
            "compressed_binary" => {
                seen.first(0)?;
                binary = Some(c.string()?);
            }
            "decompression_metadata" => {
                seen.first(1)?;
                metadata = c.nullable(metadata_of)?;
            }
            _ => c.skip()?,
        }
        Some(())
    })?;
    Some(DevicePacket {
        compressed_binary: Cow::Borrowed(binary?),
        decompression_metadata: metadata,
    })
}

fn metadata_of<'a>(c: &mut Cursor<'a>) -> Option<Metadata<'a>> {
    let mut seen = Seen::default();
    let mut m = Metadata::default();
    let size = |c: &mut Cursor<'a>| c.nullable(|c| usize::try_from(c.integer()?).ok());
    c.object(|c, key| {
        match key {
            "method" => {
                seen.first(0)?;
                m.method = c.nullable(Cursor::string)?.map(Cow::Borrowed);
            }
            "register_count" => {
                seen.first(1)?;
                m.register_count = size(c)?;
            }
            "sample_count" => {
                seen.first(2)?;
                m.sample_count = size(c)?;
            }
            "compressed_size_bytes" => {
                seen.first(3)?;
                m.compressed_size_bytes = size(c)?;
            }
            "timestamp" => {
                seen.first(4)?;
                m.timestamp = c.nullable(Cursor::integer)?;
            }
            "register_layout" => {
                seen.first(5)?;
                m.register_layout = c.nullable(|c| {
                    let mut ids = Vec::new();
                    c.array(|c| {
                        ids.push(u16::try_from(c.integer()?).ok()?);
                        Some(())
                    })?;
                    Some(ids)
                })?;
            }
            "original_size_bytes" => {
                seen.first(6)?;
                c.skip()?;
            }
            _ => c.skip()?,
        }
        Some(())
    })?;
    Some(m)
}

/// The position of the first quote, backslash or control character: eight
/// bytes at a time (SWAR), since most of an upload's bytes are in strings
/// and most strings are too short for a `memchr` call to pay off.
fn special(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit set in each byte below `n` (n ≤ 0x80); the lowest flagged
    // byte is always a true match, which is the only one used.
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let equal = |w: u64, b: u8| below(w ^ (ONES * u64::from(b)), 1);
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let found = equal(w, b'"') | equal(w, b'\\') | below(w, 0x20);
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    let tail = chunks
        .remainder()
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some(offset + tail)
}

/// The known fields already read (serde refuses a repeated one).
#[derive(Default)]
struct Seen(u32);

impl Seen {
    fn first(&mut self, field: u32) -> Option<()> {
        let bit = 1 << field;
        if self.0 & bit != 0 {
            return None;
        }
        self.0 |= bit;
        Some(())
    }
}

/// A position in the JSON text; every read returns `None` for anything
/// outside the accepted subset.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    depth: u32,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    /// The next byte after whitespace.
    fn peek(&mut self) -> Option<u8> {
        loop {
            let byte = *self.rest().first()?;
            if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(byte);
            }
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let matched = self.peek().is_some() && self.rest().starts_with(word);
        if matched {
            self.pos += word.len();
        }
        matched
    }

    /// Only whitespace is left.
    fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }

    /// `null` as `None`, anything else read by `read`.
    fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.literal(b"null") {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// A string without escapes or control characters, borrowed.
    fn string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let rest = self.rest();
        let len = special(rest)?;
        if rest.get(len) != Some(&b'"') {
            return None;
        }
        let start = self.pos;
        self.pos += len + 1;
        // Quotes are ASCII, so both ends are character boundaries.
        self.text.get(start..start + len)
    }

    /// A non-negative integer written without sign, fraction or exponent.
    fn integer(&mut self) -> Option<u64> {
        self.peek()?;
        let rest = self.rest();
        let len = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let digits = rest.get(..len)?;
        let leading_zero = digits.len() > 1 && digits.first() == Some(&b'0');
        let followed = matches!(rest.get(len), Some(b'.' | b'e' | b'E'));
        if digits.is_empty() || leading_zero || followed {
            return None;
        }
        self.pos += len;
        digits.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }

    /// Any value, validated and skipped.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|c, _| c.skip()),
            b'[' => self.array(Cursor::skip),
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.literal(b"null").then_some(()),
            _ => self.number(),
        }
    }

    /// Any value, validated; its text as serde's `RawValue` holds it.
    fn raw(&mut self) -> Option<&'a str> {
        self.peek()?;
        let start = self.pos;
        self.skip()?;
        self.text.get(start..self.pos)
    }

    /// A JSON number without an exponent and with at most 20 integer digits
    /// (so that serde never finds it out of range).
    fn number(&mut self) -> Option<()> {
        let rest = self.rest();
        let sign = usize::from(rest.first() == Some(&b'-'));
        let digits = |from: usize| {
            rest.get(from..)
                .unwrap_or_default()
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let int = digits(sign);
        let leading_zero = int > 1 && rest.get(sign) == Some(&b'0');
        if int == 0 || int > 20 || leading_zero {
            return None;
        }
        let mut len = sign + int;
        if rest.get(len) == Some(&b'.') {
            let frac = digits(len + 1);
            if frac == 0 {
                return None;
            }
            len += 1 + frac;
        }
        if matches!(rest.get(len), Some(b'e' | b'E')) {
            return None;
        }
        self.pos += len;
        Some(())
    }

    fn nested<T>(&mut self, read: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let value = read(self);
        self.depth -= 1;
        value
    }

    /// An object; `field` reads the value of each key.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.nested(|c| {
            if c.eat(b'}').is_some() {
                return Some(());
            }
            loop {
                let key = c.string()?;
                c.eat(b':')?;
                field(c, key)?;
                if c.eat(b',').is_none() {
                    return c.eat(b'}');
                }
            }
        })
    }

    /// An array; `item` reads each element.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.nested(|c| {
            if c.eat(b']').is_some() {
                return Some(());
            }
            loop {
                item(c)?;
                if c.eat(b',').is_none() {
                    return c.eat(b']');
                }
            }
        })
    }
}

/// The fast reader and serde agree on arbitrary uploads: the firmware's
/// shape with each part now and then replaced by a near miss, extra fields,
/// whitespace, and perhaps one byte changed.
#[cfg(test)]
mod agreement {
    extern crate std;

    use alloc::format;
    use alloc::string::String;

    use proptest::prelude::*;

    use crate::near_miss::{mutated, part};

    use super::super::Limits;
    use super::super::wire::{parse, parse_json};

    const NUMBERS: &[&str] = &[
        "-1",
        "1.0",
        "1e3",
        "07",
        "null",
        "\"5\"",
        "18446744073709551616",
        "4294967296",
        "65536",
    ];

    fn int() -> impl Strategy<Value = String> {
        part((0u64..100_000).prop_map(|n| format!("{n}")), NUMBERS)
    }

    fn packet() -> impl Strategy<Value = String> {
        let binary = part(
            proptest::collection::vec(any::<u8>(), 1..30)
                .prop_map(|b| format!("\"{}\"", crate::text::base64_encode(&b))),
            &["\"AQ\\u0041=\"", "\"@@\"", "null", "7", "\"\""],
        );
        let layout = part(
            proptest::collection::vec(0u16..12, 0..8)
                .prop_map(|ids| format!("{ids:?}").replace(' ', "")),
            &["[1,70000]", "[1.0]", "null", "[", "[-1]", "{}"],
        );
        let method = part(
            proptest::sample::select(&["\"bitpack\"", "\"temporal\"", "\"dictionary\""][..])
                .prop_map(String::from),
            &["null", "1", "\"a\\\"b\""],
        );
        let extra = part(
            Just(String::from(
                r#","performance_metrics":{"academic_ratio":0.833333313,"lossless_verified":false}"#,
            )),
            &[
                r#","x":1e400"#,
                r#","x":[[[]]]"#,
                r#","x":-0.5"#,
                r#","x":tru"#,
                r#","compressed_binary":"AA==""#,
            ],
        );
        (binary, layout, method, int(), int(), int(), extra).prop_map(
            |(binary, layout, method, count, samples, ts, extra)| {
                format!(
                    r#"{{"compressed_binary":{binary},"decompression_metadata":{{"method":{method},"register_count":{count},"sample_count":{samples},"original_size_bytes":36,"compressed_size_bytes":30,"timestamp":{ts},"register_layout":{layout}}}{extra}}}"#
                )
            },
        )
    }

    fn upload() -> impl Strategy<Value = String> {
        let device = part(
            Just(String::from("\"ESP32_001\"")),
            &["null", "\"ESP\\u0033\"", "5", "\"\u{e9}t\u{e9}\""],
        );
        let mapping = part(
            Just(String::from(r#"{"0":"Vac1","1":"Iac1"}"#)),
            &[
                "null",
                "[]",
                r#"{"0":"Nope"}"#,
                r#"{"0":"Vac1","0":"Iac1"}"#,
            ],
        );
        let data =
            proptest::collection::vec(packet(), 0..3).prop_map(|p| format!("[{}]", p.join(",")));
        let data = part(data, &["null", "\"AQ==\"", "[1,2]", "{}"]);
        (device, int(), int(), mapping, data, any::<bool>())
            .prop_map(|(device, timestamp, interval, mapping, data, spaced)| {
                let sep = if spaced { " ,\n" } else { "," };
                let text = format!(
                    r#"{{"device_id":{device}{sep}"timestamp":{timestamp}{sep}"data_type":"compressed_sensor_batch"{sep}"sampling_interval":{interval}{sep}"register_mapping":{mapping}{sep}"compressed_data":{data}{sep}"session_summary":{{"total_original_bytes":36,"overall_savings_percent":16.66666794}}}}"#
                );
                text
            })
    }

    type Parsed = Result<super::super::Upload, super::super::UploadError>;

    /// The reading of `bytes` by the fast reader (with its fallback), and by serde alone.
    fn both(bytes: &[u8]) -> (Parsed, Parsed) {
        let limits = Limits::default();
        let serde = match crate::text::utf8(bytes) {
            Some(json) => parse_json(json, &limits),
            None => Err(super::super::UploadError::Malformed { field: "json" }),
        };
        (parse(bytes, &limits), serde)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn the_fast_reader_agrees_with_serde(bytes in mutated(upload())) {
            let (fast, serde) = both(&bytes);
            prop_assert_eq!(fast, serde);
        }

        #[test]
        fn arbitrary_text_agrees_too(text in ".{0,200}") {
            let (fast, serde) = both(text.as_bytes());
            prop_assert_eq!(fast, serde);
        }
    }
}
