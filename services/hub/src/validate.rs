//! Input rules for everything people type: emails, slugs, names, passwords.

use strata_api_types::ErrorCode;

use crate::error::UserError;

/// Longest email address SMTP allows.
const EMAIL_MAX: usize = 254;
/// Slugs are DNS labels with room for a prefix (`ws-<slug>`).
const SLUG_MAX: usize = 40;
const NAME_MAX: usize = 100;
/// Passwords are hashed with argon2id whatever their length; a cap keeps a
/// megabyte "password" from costing anything before it is refused.
const PASSWORD_MIN: usize = 10;
const PASSWORD_MAX: usize = 256;

/// Passwords that top every breach list; refusing them stops the commonest
/// guesses. (A full breach corpus check belongs to a later change.)
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "12345678910",
    "0123456789",
    "1q2w3e4r5t",
    "qwertyuiop",
    "1qaz2wsx3edc",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou123",
    "qwerty12345",
    "qwerty123456",
    "abc1234567",
    "abcdefghij",
    "letmein123",
    "welcome123",
    "admin12345",
    "administrator",
    "princess123",
    "football123",
    "baseball123",
    "sunshine123",
    "monkey12345",
    "dragon12345",
    "changeme123",
    "0987654321",
    "1111111111",
    "aaaaaaaaaa",
    "zaq12wsxcde",
    "trustno1234",
];

/// Normalises an email (trimmed, lower-cased) and checks its shape; sending
/// the verification link is what proves it.
pub fn email(raw: &str) -> Result<String, UserError> {
    let email = raw.trim().to_lowercase();
    let invalid = |message: &str| Err(UserError::invalid("email", message.to_owned()));
    if email.is_empty() {
        return invalid("enter an email address");
    }
    if email.len() > EMAIL_MAX {
        return invalid(&format!("an email address has at most {EMAIL_MAX} characters"));
    }
    let Some((local, domain)) = email.rsplit_once('@') else {
        return invalid("an email address looks like name@example.com");
    };
    let domain_ok = domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    if local.is_empty() || !domain_ok || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return invalid("an email address looks like name@example.com");
    }
    Ok(email)
}

/// A slug: 2–40 lower-case letters, digits and inner hyphens (a DNS label).
pub fn slug(field: &str, raw: &str) -> Result<String, UserError> {
    let slug = raw.trim();
    let ok = (2..=SLUG_MAX).contains(&slug.len())
        && slug.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--");
    if ok {
        Ok(slug.to_owned())
    } else {
        Err(UserError::invalid(
            field,
            format!(
                "`{}` is not a valid slug: use 2–{SLUG_MAX} lower-case letters, digits and single hyphens, \
                 not starting or ending with a hyphen (e.g. `data-team`)",
                shorten(slug)
            ),
        ))
    }
}

/// A display name: 1–100 printable characters.
pub fn name(field: &str, raw: &str) -> Result<String, UserError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(UserError::invalid(field, "enter a name"));
    }
    if name.chars().count() > NAME_MAX {
        return Err(UserError::invalid(field, format!("a name has at most {NAME_MAX} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(UserError::invalid(field, "a name cannot contain control characters"));
    }
    Ok(name.to_owned())
}

/// Checks a new password: long enough, not absurdly long, not a breach-list
/// favourite, not the email address.
pub fn new_password(password: &str, email: &str) -> Result<(), UserError> {
    let weak = |message: String| Err(UserError::new(Some("password"), ErrorCode::WeakPassword, message));
    let length = password.chars().count();
    if length < PASSWORD_MIN {
        return weak(format!("use at least {PASSWORD_MIN} characters"));
    }
    if password.len() > PASSWORD_MAX {
        return weak(format!("use at most {PASSWORD_MAX} bytes"));
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return weak("this password is on lists of the most common passwords; choose another".to_owned());
    }
    let distinct = {
        let mut chars: Vec<char> = lower.chars().collect();
        chars.sort_unstable();
        chars.dedup();
        chars.len()
    };
    if distinct < 4 {
        return weak("use more different characters".to_owned());
    }
    let local = email.split('@').next().unwrap_or_default();
    if lower == email || (local.len() >= 4 && lower.contains(local)) {
        return weak("do not use your email address in your password".to_owned());
    }
    Ok(())
}

/// Refuses over-long passwords before they reach the hasher at login.
pub fn password_length(password: &str) -> Result<(), UserError> {
    if password.len() > PASSWORD_MAX {
        return Err(UserError::invalid("password", format!("a password has at most {PASSWORD_MAX} bytes")));
    }
    Ok(())
}

/// Echoes user input in an error without echoing a novel.
fn shorten(text: &str) -> String {
    const SHOWN: usize = 48;
    if text.chars().count() <= SHOWN {
        text.to_owned()
    } else {
        format!("{}…", text.chars().take(SHOWN).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(email("  Ada@Example.COM ").unwrap(), "ada@example.com");
    }

    #[test]
    fn malformed_emails_are_refused_with_an_example() {
        for bad in
            ["", "ada", "ada@", "@example.com", "ada@example", "ada@.com", "a da@example.com", "ada@exa_mple.com"]
        {
            let error = email(bad).unwrap_err();
            assert_eq!(error.field.as_deref(), Some("email"), "{bad}");
        }
        assert!(email(&format!("{}@example.com", "a".repeat(300))).unwrap_err().message.contains("254"));
    }

    #[test]
    fn slugs_are_dns_labels() {
        assert_eq!(slug("slug", "data-team").unwrap(), "data-team");
        for bad in ["a", "Data", "-x", "x-", "a--b", "a_b", "ü-x", &"a".repeat(41)] {
            let error = slug("slug", bad).unwrap_err();
            assert_eq!(error.code, ErrorCode::InvalidArgument, "{bad}");
            assert!(error.message.contains("data-team"), "{}", error.message);
        }
    }

    #[test]
    fn long_input_is_not_echoed_in_full() {
        let error = slug("slug", &"x".repeat(5000)).unwrap_err();
        assert!(error.message.len() < 400, "{}", error.message);
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        let email = "grace@example.com";
        assert!(new_password("correct horse battery", email).is_ok());
        for (bad, reason) in [
            ("short", "at least"),
            ("Password123", "common"),
            ("AAAAAAAAAA", "common"),
            ("abababababab", "different"),
            ("grace-secret-1", "email"),
        ] {
            let error = new_password(bad, email).unwrap_err();
            assert_eq!(error.code, ErrorCode::WeakPassword);
            assert!(error.message.contains(reason), "{bad}: {}", error.message);
        }
        assert!(new_password(&"x1y2".repeat(100), email).is_err());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Data Team ").unwrap(), "Data Team");
        assert!(name("name", "").is_err());
        assert!(name("name", &"n".repeat(101)).is_err());
        assert!(name("name", "tab\there").is_err());
    }
}
