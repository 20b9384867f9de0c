//! Calendar buckets in a time zone: the hours of a day, the days of a
//! month, the months of a year (DST days have 23 or 25 hours).

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan, Zoned};

/// How energy is bucketed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Period {
    /// One day, by hour.
    Day,
    /// One month, by day.
    Month,
    /// One year, by month.
    Year,
}

impl Period {
    /// Parses `day`, `month` or `year`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day" => Some(Self::Day),
            "month" => Some(Self::Month),
            "year" => Some(Self::Year),
            _ => None,
        }
    }
}

/// Bucket edges (Unix ms) and a label per bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// `labels.len() + 1` edges.
    pub edges: Vec<u64>,
    /// `14:00`, `2026-05-14`, `2026-05`.
    pub labels: Vec<String>,
    /// The period's own label (`2026-05-14`, `2026-05`, `2026`).
    pub label: String,
}

/// Resolves a time zone name (`UTC`, `Europe/Berlin`).
///
/// # Errors
/// A message for an unknown zone.
pub fn zone(name: &str) -> Result<TimeZone, String> {
    TimeZone::get(name).map_err(|_| format!("unknown time zone {name:?}"))
}

/// The period containing `at` (`2026-05-14`, `2026-05`, `2026`; default:
/// now), split into buckets.
///
/// # Errors
/// A message when `at` does not parse or is out of range.
pub fn calendar(period: Period, at: Option<&str>, tz: &TimeZone) -> Result<Calendar, String> {
    let today = Zoned::now().with_time_zone(tz.clone()).date();
    let bad = || format!("`at` is YYYY-MM-DD, YYYY-MM or YYYY, not {at:?}");
    let date = match at {
        None => today,
        Some(text) => {
            let parts: Vec<&str> = text.split('-').collect();
            let num = |i: usize| -> Result<i16, String> {
                parts.get(i).map_or(Ok(1), |p| p.parse().map_err(|_| bad()))
            };
            let (y, m, d) = (num(0)?, num(1)?, num(2)?);
            if parts.len() > 3 || !(1970..=2200).contains(&y) {
                return Err(bad());
            }
            Date::new(
                y,
                i8::try_from(m).map_err(|_| bad())?,
                i8::try_from(d).map_err(|_| bad())?,
            )
            .map_err(|_| bad())?
        }
    };
    let (start, step, count, label) = match period {
        Period::Day => {
            // 23, 24 or 25 hours, from local midnight to the next.
            let zoned = |d: Date| d.to_zoned(tz.clone()).map_err(|e| e.to_string());
            let day_ms = zoned(date.tomorrow().map_err(|e| e.to_string())?)?
                .timestamp()
                .as_millisecond()
                - zoned(date)?.timestamp().as_millisecond();
            (date, 0, day_ms / 3_600_000, date.to_string())
        }
        Period::Month => {
            let first = date.first_of_month();
            let days = i64::from(first.days_in_month());
            (first, 1, days, first.strftime("%Y-%m").to_string())
        }
        Period::Year => {
            let first = date.first_of_year();
            (first, 2, 12, first.strftime("%Y").to_string())
        }
    };
    let origin = start.to_zoned(tz.clone()).map_err(|e| e.to_string())?;
    let mut edges = Vec::new();
    let mut labels = Vec::new();
    for i in 0..=count {
        let at = match step {
            0 => origin.checked_add(i.hours()),
            1 => origin
                .date()
                .checked_add(i.days())
                .and_then(|d| d.to_zoned(tz.clone())),
            _ => origin
                .date()
                .checked_add(i.months())
                .and_then(|d| d.to_zoned(tz.clone())),
        }
        .map_err(|e| e.to_string())?;
        edges.push(millis(at.timestamp()));
        if i < count {
            labels.push(match step {
                0 => at.strftime("%H:%M").to_string(),
                1 => at.date().to_string(),
                _ => at.strftime("%Y-%m").to_string(),
            });
        }
    }
    Ok(Calendar {
        edges,
        labels,
        label,
    })
}

/// The start of the day containing `now_ms` in `tz`, Unix ms.
pub fn start_of_day(now_ms: u64, tz: &TimeZone) -> u64 {
    let now = Timestamp::from_millisecond(i64::try_from(now_ms).unwrap_or(i64::MAX))
        .unwrap_or(Timestamp::UNIX_EPOCH)
        .to_zoned(tz.clone());
    now.start_of_day().map_or(now_ms, |z| millis(z.timestamp()))
}

fn millis(t: Timestamp) -> u64 {
    u64::try_from(t.as_millisecond()).unwrap_or(0)
}

/// RFC 3339 text of a Unix ms time (UTC), for CSV.
pub fn iso(t_ms: u64) -> String {
    Timestamp::from_millisecond(i64::try_from(t_ms).unwrap_or(i64::MAX))
        .map_or_else(|_| String::new(), |t| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_days_and_dst_days_have_their_lengths() {
        let utc = zone("UTC").unwrap();
        let may = calendar(Period::Month, Some("2026-05"), &utc).unwrap();
        assert_eq!(may.labels.len(), 31);
        assert_eq!(may.labels[13], "2026-05-14");
        assert_eq!(may.edges[0], 1_777_593_600_000);
        assert_eq!(may.edges[31] - may.edges[0], 31 * 86_400_000);
        let year = calendar(Period::Year, Some("2024"), &utc).unwrap();
        assert_eq!(year.labels.len(), 12);
        assert_eq!(year.labels[1], "2024-02");
        assert_eq!(year.edges[2] - year.edges[1], 29 * 86_400_000);
        let berlin = zone("Europe/Berlin").unwrap();
        let spring = calendar(Period::Day, Some("2026-03-29"), &berlin).unwrap();
        assert_eq!(spring.labels.len(), 23);
        assert_eq!(spring.edges[23] - spring.edges[0], 23 * 3_600_000);
        assert_eq!(spring.labels[2], "03:00", "02:00 does not exist that day");
        assert!(calendar(Period::Day, Some("2026-02-30"), &utc).is_err());
        assert!(calendar(Period::Day, Some("yesterday"), &utc).is_err());
        assert!(zone("Mars/Olympus").is_err());
    }

    #[test]
    fn days_start_at_local_midnight() {
        let utc = zone("UTC").unwrap();
        assert_eq!(
            start_of_day(1_777_593_600_000 + 5_000, &utc),
            1_777_593_600_000
        );
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
    }
}
