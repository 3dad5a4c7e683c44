//! Datetimes as the backend writes and reads them (`2025-04-08T11:27:52`, UTC, naive), in whole
//! seconds: enough for the instance's records, their expirations and the DataPipe filters.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Seconds since the epoch now.
pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The backend's datetime `ago` before now, e.g. for a DataPipe record a test puts in.
pub fn datetime_ago(ago: Duration) -> String {
    format_secs(now_secs() - i64::try_from(ago.as_secs()).unwrap_or(i64::MAX))
}

/// `secs` since the epoch as `YYYY-MM-DDTHH:MM:SS`.
pub(crate) fn format_secs(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The seconds since the epoch of an ISO 8601 datetime (`T` or a space between date and time, any
/// fraction dropped, `Z` or `±HH:MM` applied); `None` when it is not one.
pub(crate) fn parse_secs(text: &str) -> Option<i64> {
    let text = text.trim();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    let separators = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    let bytes = text.as_bytes();
    if bytes.len() < 19
        || separators.iter().any(|(i, c)| bytes[*i] != *c)
        || !matches!(bytes[10], b'T' | b' ')
    {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "" | "Z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let (h, m) = rest[1..].split_once(':')?;
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60)
        }
    };
    // Days from the civil date (the inverse of `format_secs`).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_reads_the_backend_forms() {
        for secs in [0, 951_782_400, 1_762_976_453, 4_107_542_400] {
            assert_eq!(parse_secs(&format_secs(secs)), Some(secs));
        }
        assert_eq!(format_secs(1_762_976_453), "2025-11-12T19:40:53");
        assert_eq!(
            parse_secs("2025-11-12 19:40:53.000123+00:00"),
            Some(1_762_976_453)
        );
        assert_eq!(parse_secs("2025-11-12T21:40:53+02:00"), Some(1_762_976_453));
        assert_eq!(parse_secs("2025-11-12T19:40:53Z"), Some(1_762_976_453));
        for bad in ["", "yesterday", "2025-13-01T00:00:00", "2025-11-12T19:40"] {
            assert_eq!(parse_secs(bad), None, "{bad}");
        }
    }
}
