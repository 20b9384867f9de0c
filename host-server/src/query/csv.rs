//! CSV for spreadsheets: RFC 4180 quoting, a header row, UTC times.

use std::fmt::Write as _;

/// One CSV field, quoted when it holds a comma, quote or line break.
pub fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Writes one record: fields joined by commas, CRLF-terminated.
pub fn record<I, S>(out: &mut String, fields: I)
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut first = true;
    for f in fields {
        if !first {
            out.push(',');
        }
        first = false;
        out.push_str(&field(f.as_ref()));
    }
    out.push_str("\r\n");
}

/// A number for CSV (empty when absent).
pub fn number(value: Option<f64>) -> String {
    let mut s = String::new();
    if let Some(v) = value {
        let _ = write!(s, "{v}");
    }
    s
}

/// Whether the client asked for CSV (`format=csv` or `Accept: text/csv`).
pub fn wanted(format: Option<&str>, accept: Option<&str>) -> bool {
    format.map_or_else(
        || accept.is_some_and(|a| a.contains("text/csv")),
        |f| f.eq_ignore_ascii_case("csv"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut out = String::new();
        record(&mut out, ["a", "b,c", "say \"hi\""]);
        assert_eq!(out, "a,\"b,c\",\"say \"\"hi\"\"\"\r\n");
        assert_eq!(number(Some(1.5)), "1.5");
        assert_eq!(number(None), "");
        assert!(wanted(None, Some("text/csv, */*")));
        assert!(wanted(Some("CSV"), Some("application/json")));
        assert!(!wanted(Some("json"), Some("text/csv")));
        assert!(!wanted(None, None));
    }
}
