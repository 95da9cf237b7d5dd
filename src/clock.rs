//! The one wall clock every record is stamped with.

/// Milliseconds since the Unix epoch, UTC.
pub fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000)
        .unwrap_or(i64::MAX)
}

/// `ms` as an RFC 3339 timestamp (`2026-12-03T15:31:15.123Z`); empty if out of range.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// An RFC 3339 timestamp as unix millis.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .and_then(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        let ms = parse_rfc3339("2026-12-31T23:59:59Z").unwrap();
        assert_eq!(rfc3339(ms), "2026-12-31T23:59:59Z");
        assert_eq!(
            parse_rfc3339("2026-12-31T23:59:59.5+01:00"),
            Some(ms - 3_599_500)
        );
        assert_eq!(parse_rfc3339("tomorrow"), None);
    }
}
