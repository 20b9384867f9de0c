//! The SolarHub API's 422 answers: `{"detail": [{type, loc, msg, input}]}`
//! in its validation format, with this server's `error` and `message`.

use http::StatusCode;
use serde_json::{Value, json};
use warp::Reply;
use warp::reply::Response;

/// Why a path or query parameter was refused.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Invalid {
    /// The validation type (`greater_than_equal`, `int_parsing` …).
    kind: &'static str,
    /// Where: `path` or `query`, and the parameter.
    loc: [&'static str; 2],
    /// What was wrong, for people.
    msg: String,
    /// The value given.
    input: Value,
}

impl Reply for Invalid {
    fn into_response(self) -> Response {
        let body = json!({
            "error": "validation_error",
            "message": format!("{}: {}", self.loc[1], self.msg),
            "detail": [{
                "type": self.kind,
                "loc": self.loc,
                "msg": self.msg,
                "input": self.input,
            }],
        });
        warp::reply::with_status(warp::reply::json(&body), StatusCode::UNPROCESSABLE_ENTITY)
            .into_response()
    }
}

/// A unit number (`bess_number`, `pcs_number` …) that must be one of `numbers`.
pub(super) fn unit_number(
    loc: [&'static str; 2],
    text: &str,
    numbers: &[u8],
) -> Result<u8, Invalid> {
    let invalid = |kind, msg: String| Invalid {
        kind,
        loc,
        msg,
        input: json!(text),
    };
    let n: i64 = text.parse().map_err(|_| {
        invalid(
            "int_parsing",
            "Input should be a valid integer, unable to parse string as an integer".into(),
        )
    })?;
    let input = json!(n);
    let refuse = |kind, msg: String| Invalid {
        kind,
        loc,
        msg,
        input: input.clone(),
    };
    if n < 1 {
        return Err(refuse(
            "greater_than_equal",
            "Input should be greater than or equal to 1".into(),
        ));
    }
    let max = numbers.iter().copied().max().unwrap_or(0);
    if n > i64::from(max) {
        return Err(refuse(
            "less_than_equal",
            format!("Input should be less than or equal to {max}"),
        ));
    }
    u8::try_from(n)
        .ok()
        .filter(|n| numbers.contains(n))
        .ok_or_else(|| {
            refuse(
                "value_error",
                format!("Value error, the site has no unit {n}"),
            )
        })
}

/// `rack01` … : the rack's 1-based index, at most `racks`.
pub(super) fn rack(text: &str, racks: usize) -> Result<usize, Invalid> {
    let loc = ["path", "rack_number"];
    let digits = text
        .strip_prefix("rack")
        .filter(|d| d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit()));
    let Some(digits) = digits else {
        return Err(Invalid {
            kind: "string_pattern_mismatch",
            loc,
            msg: "String should match pattern '^rack\\d{2}$'".into(),
            input: json!(text),
        });
    };
    let n: usize = digits.parse().unwrap_or(0);
    if (1..=racks).contains(&n) {
        Ok(n)
    } else {
        Err(Invalid {
            kind: "value_error",
            loc,
            msg: format!("Value error, racks are rack01 to rack{racks:02}"),
            input: json!(text),
        })
    }
}

/// A `YYYY-MM-DD` date's first millisecond (UTC) and the next day's.
pub(super) fn day(loc: [&'static str; 2], text: &str) -> Result<(u64, u64), Invalid> {
    let start = text
        .parse::<jiff::civil::Date>()
        .ok()
        .filter(|_| text.len() == 10)
        .and_then(|d| d.to_zoned(jiff::tz::TimeZone::UTC).ok())
        .and_then(|z| u64::try_from(z.timestamp().as_millisecond()).ok());
    start.map(|s| (s, s + 86_400_000)).ok_or_else(|| Invalid {
        kind: "date_parsing",
        loc,
        msg: "Input should be a valid date in the format YYYY-MM-DD".into(),
        input: json!(text),
    })
}

/// One of `allowed`.
pub(super) fn literal<'a>(
    loc: [&'static str; 2],
    text: &'a str,
    allowed: &[&str],
) -> Result<&'a str, Invalid> {
    if allowed.contains(&text) {
        return Ok(text);
    }
    let quoted: Vec<String> = allowed.iter().map(|a| format!("'{a}'")).collect();
    Err(Invalid {
        kind: "literal_error",
        loc,
        msg: format!("Input should be {}", quoted.join(" or ")),
        input: json!(text),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_racks_dates_and_literals() {
        let loc = ["path", "bess_number"];
        assert_eq!(unit_number(loc, "2", &[1, 2]), Ok(2));
        assert_eq!(
            unit_number(loc, "0", &[1, 2]).unwrap_err().kind,
            "greater_than_equal"
        );
        assert_eq!(
            unit_number(loc, "3", &[1, 2]).unwrap_err().kind,
            "less_than_equal"
        );
        assert_eq!(
            unit_number(loc, "x", &[1, 2]).unwrap_err().kind,
            "int_parsing"
        );
        assert_eq!(
            unit_number(loc, "2", &[1, 3]).unwrap_err().kind,
            "value_error"
        );
        assert_eq!(rack("rack12", 12), Ok(12));
        assert_eq!(rack("rack13", 12).unwrap_err().kind, "value_error");
        assert_eq!(
            rack("rack1", 12).unwrap_err().kind,
            "string_pattern_mismatch"
        );
        let q = ["query", "time"];
        assert_eq!(
            day(q, "2025-11-23"),
            Ok((1_763_856_000_000, 1_763_942_400_000))
        );
        assert!(day(q, "2025-13-01").is_err());
        assert_eq!(literal(q, "chart", &["chart", "summary"]), Ok("chart"));
        let bad = literal(q, "pie", &["chart", "summary"]).unwrap_err();
        assert_eq!(bad.msg, "Input should be 'chart' or 'summary'");
    }
}
