//! Cron input schedules: cron expressions, `@every <duration>` and `never`.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Timelike, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use super::{Problem, SpecError, duration};

/// When a cron input ticks. Evaluated in UTC.
///
/// Accepts standard 5-field cron (`*/5 * * * *`), 6 fields with seconds
/// first (`*/10 * * * * *`), `@yearly`/`@annually`/`@monthly`/`@weekly`/
/// `@daily`/`@midnight`/`@hourly`, `@every <go duration>` and `never` (no
/// ticks; only manual runs). Two schedules are equal when written the same.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    text: String,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Cron(Box<Cron>),
    Every(Duration),
    Never,
}

impl PartialEq for CronSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for CronSchedule {}

const SCHEDULE_HINT: &str = "use 5 cron fields (\"*/5 * * * *\"), 6 with seconds first, @hourly, @daily, @weekly, @monthly, @yearly, \"@every 1h30m\" or \"never\"";

impl CronSchedule {
    /// Parses a schedule.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        parse(text).map_err(|problem| problem.at(""))
    }

    /// The schedule as written (trimmed).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The interval of an `@every` schedule.
    pub fn interval(&self) -> Option<Duration> {
        match self.kind {
            Kind::Every(interval) => Some(interval),
            Kind::Cron(_) | Kind::Never => None,
        }
    }

    /// True for `never`: the input only ticks when run by hand.
    pub fn is_never(&self) -> bool {
        matches!(self.kind, Kind::Never)
    }

    /// The first tick strictly after `after`; `None` for `never` (or a date
    /// too far out to compute).
    ///
    /// `@every d` ticks at `after` truncated to the second plus `d`, as
    /// Pachyderm's cron library does: pass the previous tick (or the input's
    /// `start`) to get a steady rhythm.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match &self.kind {
            Kind::Never => None,
            Kind::Every(interval) => {
                let whole = after.with_nanosecond(0)?;
                whole.checked_add_signed(chrono::Duration::from_std(*interval).ok()?)
            }
            Kind::Cron(cron) => cron.find_next_occurrence(&after, false).ok(),
        }
    }
}

pub(crate) fn parse(text: &str) -> Result<CronSchedule, Problem> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(Problem::new("the schedule is empty").hint(SCHEDULE_HINT));
    }
    let lower = trimmed.to_ascii_lowercase();
    let kind = if lower == "never" {
        Kind::Never
    } else if let Some(rest) = lower.strip_prefix("@every") {
        Kind::Every(every(trimmed, &trimmed[trimmed.len() - rest.len()..])?)
    } else {
        Kind::Cron(Box::new(cron(trimmed, &lower)?))
    };
    Ok(CronSchedule { text: trimmed.to_owned(), kind })
}

fn every(text: &str, interval: &str) -> Result<Duration, Problem> {
    let interval = interval.trim();
    if interval.is_empty() {
        return Err(Problem::new(format!("`{text}` has no interval")).hint("write e.g. \"@every 10s\""));
    }
    let interval = duration::parse(interval)?;
    // Pachyderm's cron library counts whole seconds and would silently
    // round `@every 500ms` up; saying so is kinder.
    if interval < Duration::from_secs(1) || interval.subsec_nanos() != 0 {
        return Err(Problem::new(format!("`{text}`: the interval must be a whole number of seconds, at least 1s"))
            .hint("write e.g. \"@every 10s\""));
    }
    Ok(interval)
}

fn cron(text: &str, lower: &str) -> Result<Cron, Problem> {
    let expression = match lower {
        // croner knows the others; robfig/cron, which Pachyderm uses, also has this one.
        "@midnight" => "@daily",
        "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@hourly" => text,
        other if other.starts_with('@') => {
            return Err(Problem::new(format!("unknown schedule `{text}`")).hint(SCHEDULE_HINT));
        }
        _ => text,
    };
    let fields = expression.split_whitespace().count();
    if !expression.starts_with('@') && !(5..=6).contains(&fields) {
        return Err(Problem::new(format!(
            "`{text}` has {fields} fields; a cron expression has 5, or 6 with seconds first"
        ))
        .hint(SCHEDULE_HINT));
    }
    let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Disallowed).build();
    let cron = parser
        .parse(expression)
        .map_err(|e| Problem::new(format!("`{text}` is not a valid cron expression: {e}")).hint(SCHEDULE_HINT))?;
    // A schedule such as "0 0 30 2 *" parses but never fires; a pipeline
    // that silently never runs is worse than an error. Any date works as the
    // probe since every real schedule fires within a few years of it.
    let probe = Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single();
    if probe.is_some_and(|probe| cron.find_next_occurrence(&probe, false).is_err()) {
        return Err(Problem::new(format!("`{text}` never fires")).hint("check the day of month against the month"));
    }
    Ok(cron)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("timestamp").with_timezone(&Utc)
    }

    fn next(schedule: &str, after: &str) -> Option<DateTime<Utc>> {
        parse(schedule).unwrap_or_else(|p| panic!("{schedule}: {p:?}")).next_after(at(after))
    }

    #[test]
    fn five_field_cron_ticks_on_the_minute() {
        assert_eq!(next("*/15 * * * *", "2024-03-01T10:07:30Z"), Some(at("2024-03-01T10:15:00Z")));
        assert_eq!(next("0 3 * * *", "2024-03-01T10:07:30Z"), Some(at("2024-03-02T03:00:00Z")));
    }

    #[test]
    fn six_field_cron_has_seconds_first() {
        assert_eq!(next("*/10 * * * * *", "2024-03-01T10:07:31Z"), Some(at("2024-03-01T10:07:40Z")));
    }

    #[test]
    fn nicknames_tick_like_their_expressions() {
        assert_eq!(next("@hourly", "2024-03-01T10:07:00Z"), Some(at("2024-03-01T11:00:00Z")));
        assert_eq!(next("@daily", "2024-03-01T10:07:00Z"), Some(at("2024-03-02T00:00:00Z")));
        assert_eq!(next("@midnight", "2024-03-01T10:07:00Z"), Some(at("2024-03-02T00:00:00Z")));
        assert_eq!(next("@weekly", "2024-03-01T10:07:00Z"), Some(at("2024-03-03T00:00:00Z")), "Sunday");
        assert_eq!(next("@monthly", "2024-03-01T10:07:00Z"), Some(at("2024-04-01T00:00:00Z")));
        assert_eq!(next("@yearly", "2024-03-01T10:07:00Z"), Some(at("2025-01-01T00:00:00Z")));
    }

    #[test]
    fn every_adds_the_interval_to_the_whole_second() {
        assert_eq!(next("@every 10s", "2024-03-01T10:07:00.250Z"), Some(at("2024-03-01T10:07:10Z")));
        assert_eq!(next("@every 1h30m", "2024-03-01T10:00:00Z"), Some(at("2024-03-01T11:30:00Z")));
        let schedule = parse("@every 10s").expect("parses");
        assert_eq!(schedule.interval(), Some(Duration::from_secs(10)));
    }

    #[test]
    fn never_does_not_tick() {
        let schedule = parse("never").expect("parses");
        assert!(schedule.is_never());
        assert_eq!(schedule.next_after(at("2024-03-01T10:07:00Z")), None);
    }

    #[test]
    fn bad_schedules_are_explained() {
        for (text, why) in [
            ("", "empty"),
            ("* * * *", "has 4 fields"),
            ("* * * * * * *", "has 7 fields"),
            ("61 * * * *", "not a valid cron expression"),
            ("@fortnightly", "unknown schedule"),
            ("@every", "no interval"),
            ("@every 500ms", "whole number of seconds"),
            ("@every 1.5s", "whole number of seconds"),
            ("@every 10", "has no unit"),
            ("0 0 30 2 *", "never fires"),
        ] {
            let problem = parse(text).expect_err(text);
            assert!(problem.message.contains(why), "{text}: {}", problem.message);
        }
    }
}
