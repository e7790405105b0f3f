//! Printing results as aligned tables or JSON.

#![allow(clippy::print_stdout, reason = "this module is where the CLI writes its results")]

use serde::Serialize;

use crate::cli::OutputFormat;

/// Prints `value` as pretty JSON, or `rows` as two aligned columns.
pub fn print_record(format: OutputFormat, value: &impl Serialize, rows: &[(&str, String)]) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Table => print!("{}", key_value_table(rows)),
    }
    Ok(())
}

/// Prints `value` as JSON, or `rows` under `headers` as aligned columns.
pub fn print_table(
    format: OutputFormat,
    value: &impl Serialize,
    headers: &[&str],
    rows: Vec<Vec<String>>,
) -> anyhow::Result<()> {
    match format {
        OutputFormat::Json => println!("{}", serde_json::to_string_pretty(value)?),
        OutputFormat::Table => print!("{}", columns_table(headers, rows)),
    }
    Ok(())
}

/// Renders rows under upper-case headers, columns separated by two spaces.
fn columns_table(headers: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.iter().map(|h| h.to_uppercase()).collect());
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

/// Bytes for people: `1.5 MiB`.
pub fn bytes(size: u64) -> String {
    humansize::format_size(size, humansize::BINARY)
}

/// The first 12 characters of an id or hash: enough to tell them apart
/// in a table.
pub fn short(id: &str) -> String {
    id.chars().take(12).collect()
}

/// An RFC 3339 time as `2024-05-01 12:30:00`, or `-` when there is none.
pub fn when(time: Option<&str>) -> String {
    time.map_or_else(|| "-".to_owned(), |t| t.replace('T', " ").chars().take(19).collect())
}

/// Seconds for people: `850ms`, `4.2s`, `3m 05s`, `2h 07m`.
pub fn duration(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "-".to_owned();
    }
    if secs < 1.0 {
        return format!("{:.0}ms", secs * 1000.0);
    }
    if secs < 60.0 {
        return format!("{secs:.1}s");
    }
    // Whole seconds from here on: the fraction no longer matters. The value
    // is finite and positive, so the cast cannot wrap.
    let whole = secs.round() as u64;
    let (hours, minutes, seconds) = (whole / 3600, whole / 60 % 60, whole % 60);
    if hours == 0 { format!("{minutes}m {seconds:02}s") } else { format!("{hours}h {minutes:02}m") }
}

/// A line for people, printed whatever the format (`-o json` users read
/// stdout as JSON, so callers send these to stderr when JSON is selected).
pub fn say(line: &str) {
    use std::io::Write;
    // A closed stdout (a pipe whose reader went away) must not take a
    // server down with it, so write errors are ignored here.
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// A line for people on stderr: instructions and progress that must not
/// mix with the result a script reads from stdout.
pub fn note(line: &str) {
    use std::io::Write;
    // As in `say`: a closed stderr is no reason to fail the command.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Renders `key  value` lines with the values aligned.
fn key_value_table(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(key, _)| key.len()).max().unwrap_or(0);
    rows.iter().map(|(key, value)| format!("{key:<width$}  {value}\n")).collect()
}

/// Prints text that is the command's result as it is (YAML, SVG, …).
pub fn print_text(text: &str) {
    print!("{text}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_under_their_headers() {
        let text =
            columns_table(&["name", "size"], vec![vec!["images".into(), "1 KiB".into()], vec!["x".into(), "".into()]]);
        assert_eq!(text, "NAME    SIZE\nimages  1 KiB\nx\n");
    }

    #[test]
    fn durations_read_at_the_scale_that_matters() {
        for (secs, text) in [
            (0.25, "250ms"),
            (4.24, "4.2s"),
            (59.94, "59.9s"),
            (185.0, "3m 05s"),
            (7620.4, "2h 07m"),
            (-1.0, "-"),
            (f64::NAN, "-"),
        ] {
            assert_eq!(duration(secs), text, "{secs}");
        }
    }

    #[test]
    fn times_and_ids_shrink_to_what_a_table_needs() {
        assert_eq!(when(Some("2024-05-01T12:30:00.123456Z")), "2024-05-01 12:30:00");
        assert_eq!(when(None), "-");
        assert_eq!(short("0123456789abcdef0123456789abcdef"), "0123456789ab");
        assert_eq!(short("abc"), "abc");
    }

    #[test]
    fn values_line_up_after_the_longest_key() {
        let text = key_value_table(&[("status", "ready".to_owned()), ("object_store", "ok".to_owned())]);
        assert_eq!(text, "status        ready\nobject_store  ok\n");
    }
}
