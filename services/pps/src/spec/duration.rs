//! Go-style durations (`"30s"`, `"1h30m"`, `"500ms"`), as Pachyderm's
//! `datum_timeout`, `job_timeout` and `@every` use them.

use std::time::Duration;

use super::{Problem, SpecError};

/// Nanoseconds per unit; `µs` comes in both the micro sign and Greek mu, as in Go.
const UNITS: &[(&str, u128)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("\u{b5}s", 1_000),
    ("\u{3bc}s", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

const UNIT_HINT: &str = "units are h, m, s, ms, us and ns, e.g. \"1h30m\" or \"500ms\"";

/// Parses a Go duration. Negative durations are rejected, since no field
/// here has a use for them; zero is returned as zero and left to the caller.
pub fn parse_duration(text: &str) -> Result<Duration, SpecError> {
    parse(text).map_err(|problem| problem.at(""))
}

pub(crate) fn parse(text: &str) -> Result<Duration, Problem> {
    let trimmed = text.trim();
    let (negative, mut rest) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if rest.is_empty() {
        return Err(Problem::new("the duration is empty").hint(UNIT_HINT));
    }
    if rest == "0" {
        // Go's one unitless duration.
        return Ok(Duration::ZERO);
    }
    let invalid = |why: String| Problem::new(format!("`{trimmed}` is not a duration: {why}")).hint(UNIT_HINT);
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let int_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        let int_part = &rest[..int_len];
        rest = &rest[int_len..];
        let mut frac_part = "";
        if let Some(after_dot) = rest.strip_prefix('.') {
            let frac_len = after_dot.bytes().take_while(u8::is_ascii_digit).count();
            frac_part = &after_dot[..frac_len];
            rest = &after_dot[frac_len..];
        }
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(invalid(format!("expected a number before `{rest}`")));
        }
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        if unit.is_empty() {
            return Err(invalid(format!("`{int_part}{}` has no unit", dotted(frac_part))));
        }
        let Some(&(_, scale)) = UNITS.iter().find(|(name, _)| *name == unit) else {
            return Err(invalid(format!("unknown unit `{unit}`")));
        };
        let too_large = || invalid("too large".to_owned());
        let whole: u128 = if int_part.is_empty() { 0 } else { int_part.parse().map_err(|_| too_large())? };
        let mut nanos = whole.checked_mul(scale).ok_or_else(too_large)?;
        // Digits past the 18th can't change a nanosecond count; Go
        // truncates the fraction the same way.
        let frac_digits = &frac_part[..frac_part.len().min(18)];
        if !frac_digits.is_empty() {
            let numerator: u128 = frac_digits.parse().map_err(|_| too_large())?;
            let len = u32::try_from(frac_digits.len()).map_err(|_| too_large())?;
            nanos += numerator * scale / 10u128.pow(len);
        }
        total = total.checked_add(nanos).ok_or_else(too_large)?;
    }
    if negative && total > 0 {
        return Err(Problem::new(format!("`{trimmed}` is negative")).hint("durations must be positive"));
    }
    let nanos = u64::try_from(total).map_err(|_| invalid("too large".to_owned()))?;
    Ok(Duration::from_nanos(nanos))
}

fn dotted(frac: &str) -> String {
    if frac.is_empty() { String::new() } else { format!(".{frac}") }
}

/// Formats a duration so that Go and [`parse_duration`] read it back exactly:
/// `1h30m`, `1s500ms`, `0s`.
pub fn format_duration(duration: Duration) -> String {
    let mut nanos = duration.as_nanos();
    if nanos == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (name, scale) in [
        ("h", 3_600_000_000_000u128),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        let count = nanos / scale;
        if count > 0 {
            out.push_str(&format!("{count}{name}"));
            nanos %= scale;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Duration {
        parse(text).unwrap_or_else(|p| panic!("{text}: {p:?}"))
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(d("30s"), Duration::from_secs(30));
        assert_eq!(d("1h30m"), Duration::from_secs(5400));
        assert_eq!(d("500ms"), Duration::from_millis(500));
        assert_eq!(d("1.5h"), Duration::from_secs(5400));
        assert_eq!(d(".5s"), Duration::from_millis(500));
        assert_eq!(d("2h45m10s3ms"), Duration::from_millis(((2 * 60 + 45) * 60 + 10) * 1000 + 3));
        assert_eq!(d("10us"), Duration::from_micros(10));
        assert_eq!(d("10\u{b5}s"), Duration::from_micros(10));
        assert_eq!(d("7ns"), Duration::from_nanos(7));
        assert_eq!(d("0"), Duration::ZERO);
        assert_eq!(d("+5m"), Duration::from_secs(300));
    }

    #[test]
    fn malformed_durations_say_what_is_wrong() {
        for (text, why) in [
            ("30", "has no unit"),
            ("", "empty"),
            ("5 minutes", "unknown unit"),
            ("1d", "unknown unit `d`"),
            ("h", "expected a number"),
            ("-5s", "negative"),
            ("99999999999999999999h", "too large"),
        ] {
            let problem = parse(text).expect_err(text);
            assert!(problem.message.contains(why), "{text}: {}", problem.message);
        }
    }

    #[test]
    fn formatting_round_trips() {
        for text in ["1h30m", "500ms", "30s", "1s500ms", "2h1ns", "36h"] {
            assert_eq!(format_duration(d(text)), text);
        }
        assert_eq!(format_duration(d("90m")), "1h30m");
        assert_eq!(format_duration(Duration::ZERO), "0s");
    }
}
