//! Small text helpers shared by the server and the worker.

/// The last `max` bytes of `text`, cut at a character boundary.
pub fn tail(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("… (earlier output cut)\n{}", &text[start..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_keep_the_end_and_say_so() {
        assert_eq!(tail("short", 10), "short");
        let cut = tail("0123456789", 4);
        assert!(cut.ends_with("6789") && cut.starts_with('…'));
        assert!(tail("ééééé", 3).ends_with('é'));
    }
}
