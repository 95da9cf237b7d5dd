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

/// Appends `ms` as `2009-10-12T17:50:30.123Z` (S3's XML dates) without formatting machinery:
/// a listing writes a thousand of them per page. Out of range is the epoch.
pub fn push_iso_ms(out: &mut String, ms: i64) {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let year = match u32::try_from(t.year()) {
        Ok(y) if y <= 9999 => y,
        // Years before 0 (a lifecycle date of year 0 with an offset) as they always were.
        _ => {
            use std::fmt::Write as _;
            let _ = write!(
                out,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
                t.millisecond()
            );
            return;
        }
    };
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let mut put = |at: usize, width: usize, mut n: u32| {
        for i in (at..at + width).rev() {
            // `n % 10` is a digit.
            b[i] = b'0' + (n % 10) as u8;
            n /= 10;
        }
    };
    put(0, 4, year);
    put(5, 2, u32::from(u8::from(t.month())));
    put(8, 2, u32::from(t.day()));
    put(11, 2, u32::from(t.hour()));
    put(14, 2, u32::from(t.minute()));
    put(17, 2, u32::from(t.second()));
    put(20, 3, u32::from(t.millisecond()));
    out.push_str(std::str::from_utf8(&b).unwrap_or("1970-01-01T00:00:00.000Z"));
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
    fn iso_dates_are_written_digit_by_digit() {
        let mut s = String::new();
        push_iso_ms(&mut s, 1_255_369_830_123);
        assert_eq!(s, "2009-10-12T17:50:30.123Z");
        s.clear();
        push_iso_ms(&mut s, 0);
        assert_eq!(s, "1970-01-01T00:00:00.000Z");
        s.clear();
        push_iso_ms(&mut s, parse_rfc3339("2026-12-31T23:59:59.007Z").unwrap());
        assert_eq!(s, "2026-12-31T23:59:59.007Z");
        s.clear();
        push_iso_ms(&mut s, parse_rfc3339("0000-01-01T00:00:00+01:00").unwrap());
        assert_eq!(s, "-001-12-31T23:00:00.000Z");
    }

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
