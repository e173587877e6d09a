//! Budget periods and rate windows: which one a moment falls in, and when
//! it ends. Fixed durations count from the Unix epoch (UTC); `1mo` is the
//! calendar month (UTC).

/// `30s`, `15m`, `1h`, `1d`, `30d`, `1mo`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Fixed(u64),
    Month,
}

pub fn parse_duration(text: &str) -> Option<Period> {
    let text = text.trim();
    if let Some(n) = text.strip_suffix("mo") {
        return (n.parse::<u64>().ok()? == 1).then_some(Period::Month);
    }
    let unit = match text.chars().last()? {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    let n: u64 = text[..text.len() - 1].parse().ok()?;
    // At most ten years: a longer period is a typo, not a budget.
    let ms = n
        .checked_mul(unit)
        .filter(|ms| *ms > 0 && *ms <= 3_650 * 86_400_000)?;
    Some(Period::Fixed(ms))
}

impl Period {
    /// The start and end (exclusive) of the period `now_ms` is in.
    pub fn bounds(self, now_ms: u64) -> (u64, u64) {
        match self {
            Period::Fixed(ms) => {
                let start = now_ms - now_ms % ms;
                (start, start + ms)
            }
            Period::Month => {
                let days = now_ms / 86_400_000;
                let (y, m, _) = civil_from_days(days as i64);
                let start = days_from_civil(y, m, 1) as u64 * 86_400_000;
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                let end = days_from_civil(ny, nm, 1) as u64 * 86_400_000;
                (start, end)
            }
        }
    }
}

/// `YYYY-MM-DD` of a day number (days since 1970-01-01).
pub fn date_of(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

// Howard Hinnant's civil-date algorithms (days since 1970-01-01).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: u64 = 3_600_000;
    const D: u64 = 24 * H;

    #[test]
    fn durations_parse_and_nonsense_does_not() {
        assert_eq!(parse_duration("1h"), Some(Period::Fixed(H)));
        assert_eq!(parse_duration("1d"), Some(Period::Fixed(D)));
        assert_eq!(parse_duration("30d"), Some(Period::Fixed(30 * D)));
        assert_eq!(parse_duration("1mo"), Some(Period::Month));
        for bad in ["", "h", "0d", "-1d", "1w", "2mo", "99999999999d", "1.5h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn fixed_periods_reset_on_their_boundaries() {
        // A fake clock walking across the boundaries.
        let now = 1_780_000_000_000u64;
        for (p, len) in [
            (Period::Fixed(H), H),
            (Period::Fixed(D), D),
            (Period::Fixed(30 * D), 30 * D),
        ] {
            let (s, e) = p.bounds(now);
            assert!(s <= now && now < e && e - s == len);
            assert_eq!(p.bounds(e - 1), (s, e));
            assert_eq!(p.bounds(e), (e, e + len));
        }
    }

    #[test]
    fn the_calendar_month_follows_month_lengths_and_leap_years() {
        let day = |y, m, d| days_from_civil(y, m, d) as u64 * D;
        // 2028-02-29 12:00 UTC: February of a leap year.
        let (s, e) = Period::Month.bounds(day(2028, 2, 29) + 12 * H);
        assert_eq!((s, e), (day(2028, 2, 1), day(2028, 3, 1)));
        assert_eq!((e - s) / D, 29);
        // The last millisecond of December, then the first of January.
        let ny = day(2027, 1, 1);
        assert_eq!(Period::Month.bounds(ny - 1), (day(2026, 12, 1), ny));
        assert_eq!(Period::Month.bounds(ny), (ny, day(2027, 2, 1)));
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }
}
