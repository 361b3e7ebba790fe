//! UTC instants as Unix seconds: RFC 3339 formatting for findings and messages, and parsing of
//! `--as-of` values ("2026-11-30", "2026-11-30T00:00:00Z", with an offset, or "now").

use chrono::{DateTime, NaiveDate, Utc};

/// `2026-11-30T00:00:00Z`.
pub fn format(secs: i64) -> String {
    DateTime::<Utc>::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_else(|| format!("{secs}s since the Unix epoch"))
}

/// The current time.
pub fn now() -> i64 {
    Utc::now().timestamp()
}

/// `[start, end)` in Unix seconds from optional bounds called `names` in messages; a missing
/// bound is open (far past, far future).
pub fn parse_range(
    start: Option<&str>,
    end: Option<&str>,
    names: (&str, &str),
) -> Result<(i64, i64), String> {
    let bound = |value: Option<&str>, name: &str, open: i64| {
        value
            .map(parse)
            .transpose()
            .map(|v| v.unwrap_or(open))
            .map_err(|e| format!("{name}: {e}"))
    };
    let from = bound(start, names.0, i64::MIN / 2)?;
    let to = bound(end, names.1, i64::MAX / 2)?;
    if from >= to {
        return Err(format!("{} must be before {}", names.0, names.1));
    }
    Ok((from, to))
}

/// Parses an RFC 3339 instant, a date (midnight UTC) or "now".
pub fn parse(text: &str) -> Result<i64, String> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("now") {
        return Ok(now());
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        && let Some(t) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(t.and_utc().timestamp());
    }
    Err(format!(
        "{text:?} is not a time: use RFC 3339 (2026-11-30T00:00:00Z), a date (2026-11-30) or \
         \"now\""
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors() {
        assert_eq!(parse("2026-11-30"), Ok(1_795_996_800));
        assert_eq!(parse("2026-11-30T01:00:00+01:00"), Ok(1_795_996_800));
        assert_eq!(format(1_795_996_800), "2026-11-30T00:00:00Z");
        assert!(parse("30/11/2026").unwrap_err().contains("not a time"));
    }
}
