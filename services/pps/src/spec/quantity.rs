//! Kubernetes resource quantities: `64M`, `1.5Gi`, `1e9`, `500m` (CPU).

use std::fmt;

use super::{Problem, SpecError};

/// A byte quantity as written in the spec (`"1Gi"`), with its value.
///
/// The text is kept so the effective spec shows what the user wrote and
/// round-trips exactly; the byte count is what schedulers compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quantity {
    text: String,
    bytes: u64,
}

impl Quantity {
    /// Parses a Kubernetes byte quantity; fractions of a byte round up, as
    /// Kubernetes does.
    pub fn parse(text: &str) -> Result<Self, SpecError> {
        parse_bytes(text).map_err(|problem| problem.at(""))
    }

    pub(crate) fn from_bytes(bytes: u64) -> Self {
        Self { text: bytes.to_string(), bytes }
    }

    /// The value in bytes.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// The quantity as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// How the suffix scales the number.
#[derive(Debug, Clone, Copy)]
enum Scale {
    /// × 1024^n (`Ki`, `Mi`, ...).
    Binary(u32),
    /// × 10^n (`k`, `M`, `e3`, and `m` = 10^-3).
    Decimal(i32),
}

/// A parsed quantity: `digits / 10^frac_len × scale`.
#[derive(Debug)]
struct Parsed {
    digits: u128,
    frac_len: u32,
    scale: Scale,
    milli: bool,
}

const SUFFIX_HINT: &str = "write a number with an optional suffix: k, M, G, T, P, E (powers of 1000) or Ki, Mi, Gi, Ti, Pi, Ei (powers of 1024), e.g. \"512Mi\"";

fn parse(text: &str) -> Result<Parsed, Problem> {
    let trimmed = text.trim();
    let invalid = |why: String| Problem::new(format!("`{trimmed}` is not a quantity: {why}")).hint(SUFFIX_HINT);
    let unsigned = match trimmed.as_bytes().first() {
        Some(b'-') => return Err(Problem::new(format!("`{trimmed}` is negative")).hint("quantities can't be negative")),
        Some(b'+') => &trimmed[1..],
        _ => trimmed,
    };
    let int_len = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    let (int_part, rest) = unsigned.split_at(int_len);
    let (frac_part, suffix) = match rest.strip_prefix('.') {
        Some(after) => after.split_at(after.bytes().take_while(u8::is_ascii_digit).count()),
        None => ("", rest),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return Err(invalid("it does not start with a number".to_owned()));
    }
    let too_precise = || invalid("too many digits".to_owned());
    let digits: u128 = format!("{int_part}{frac_part}").parse().map_err(|_| too_precise())?;
    let frac_len = u32::try_from(frac_part.len()).map_err(|_| too_precise())?;
    let (scale, milli) = match suffix {
        "" => (Scale::Decimal(0), false),
        "m" => (Scale::Decimal(-3), true),
        "k" => (Scale::Decimal(3), false),
        "M" => (Scale::Decimal(6), false),
        "G" => (Scale::Decimal(9), false),
        "T" => (Scale::Decimal(12), false),
        "P" => (Scale::Decimal(15), false),
        "E" => (Scale::Decimal(18), false),
        "Ki" => (Scale::Binary(1), false),
        "Mi" => (Scale::Binary(2), false),
        "Gi" => (Scale::Binary(3), false),
        "Ti" => (Scale::Binary(4), false),
        "Pi" => (Scale::Binary(5), false),
        "Ei" => (Scale::Binary(6), false),
        other => {
            let exponent = other.strip_prefix(['e', 'E']).and_then(|e| e.parse::<i32>().ok());
            match exponent {
                Some(e) if (-30..=30).contains(&e) => (Scale::Decimal(e), false),
                Some(_) => return Err(invalid("the exponent is out of range".to_owned())),
                None => return Err(invalid(format!("unknown suffix `{other}`"))),
            }
        }
    };
    Ok(Parsed { digits, frac_len, scale, milli })
}

/// Parses a byte quantity; `m` (milli) is refused because `500m` of memory
/// is half a byte in Kubernetes and almost always meant `500M`.
pub(crate) fn parse_bytes(text: &str) -> Result<Quantity, Problem> {
    let parsed = parse(text)?;
    let trimmed = text.trim();
    if parsed.milli {
        return Err(Problem::new(format!("`{trimmed}` is in thousandths of a byte (`m` means milli)"))
            .hint("for megabytes write `M` (10^6) or `Mi` (2^20)"));
    }
    let too_large = || Problem::new(format!("`{trimmed}` is too large")).hint("at most 2^64 - 1 bytes");
    let frac_divisor = 10u128.checked_pow(parsed.frac_len).ok_or_else(too_large)?;
    let (numerator, denominator) = match parsed.scale {
        Scale::Binary(power) => (parsed.digits.checked_mul(1u128 << (10 * power)).ok_or_else(too_large)?, frac_divisor),
        Scale::Decimal(exp) if exp >= 0 => {
            let multiplier = 10u128.checked_pow(exp.unsigned_abs()).ok_or_else(too_large)?;
            (parsed.digits.checked_mul(multiplier).ok_or_else(too_large)?, frac_divisor)
        }
        Scale::Decimal(exp) => {
            let divisor = 10u128.checked_pow(exp.unsigned_abs()).ok_or_else(too_large)?;
            (parsed.digits, frac_divisor.checked_mul(divisor).ok_or_else(too_large)?)
        }
    };
    let bytes = u64::try_from(numerator.div_ceil(denominator)).map_err(|_| too_large())?;
    Ok(Quantity { text: trimmed.to_owned(), bytes })
}

/// Parses a CPU quantity string (`"500m"`, `"2"`) into cores.
pub(crate) fn parse_cpu(text: &str) -> Result<f64, Problem> {
    let parsed = parse(text)?;
    let multiplier = match parsed.scale {
        Scale::Binary(power) => 1024f64.powi(i32::try_from(power).unwrap_or(i32::MAX)),
        Scale::Decimal(exp) => 10f64.powi(exp),
    };
    // Precision loss for absurdly long digit strings is harmless: the value
    // only sizes a container.
    let digits = parsed.digits as f64;
    Ok(digits / 10f64.powi(i32::try_from(parsed.frac_len).unwrap_or(i32::MAX)) * multiplier)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &str) -> u64 {
        parse_bytes(text).unwrap_or_else(|p| panic!("{text}: {p:?}")).bytes()
    }

    #[test]
    fn decimal_and_binary_suffixes_scale() {
        assert_eq!(bytes("64M"), 64_000_000);
        assert_eq!(bytes("1Gi"), 1 << 30);
        assert_eq!(bytes("1.5Gi"), 3 << 29);
        assert_eq!(bytes("128974848"), 128_974_848);
        assert_eq!(bytes("129e6"), 129_000_000);
        assert_eq!(bytes("1k"), 1000);
        assert_eq!(bytes("2Ki"), 2048);
        assert_eq!(bytes("1E"), 1_000_000_000_000_000_000);
        assert_eq!(bytes("0.5"), 1, "fractions of a byte round up");
    }

    #[test]
    fn bad_byte_quantities_are_explained() {
        for (text, why) in [
            ("500m", "milli"),
            ("1GB", "unknown suffix `GB`"),
            ("1gi", "unknown suffix `gi`"),
            ("-1G", "negative"),
            ("Gi", "does not start with a number"),
            ("100Ei", "too large"),
        ] {
            let problem = parse_bytes(text).expect_err(text);
            assert!(problem.message.contains(why), "{text}: {}", problem.message);
        }
    }

    #[test]
    fn cpu_quantities_are_cores() {
        assert_eq!(parse_cpu("500m").expect("cpu"), 0.5);
        assert_eq!(parse_cpu("2").expect("cpu"), 2.0);
        assert_eq!(parse_cpu("0.25").expect("cpu"), 0.25);
    }
}
