//! The one grammar for model and alias names, checked wherever a name enters: a recipe's
//! `name`, registration, references (`name`, `name/3`, `name@alias`), promotion and the
//! admin API. A name that could not be addressed later (`a/b`, `m@x`, one with a newline)
//! is refused up front instead of being stored and lost.
//!
//! Grammar: 1 to 64 characters, ASCII letters, digits, `-`, `_` and `.`, starting with a
//! letter or digit. Aliases are also normalised (surrounding space trimmed, lower-cased),
//! so `Production` and `production ` name the one `production` alias.

use crate::error::{RegistryError, Result};

/// The longest model or alias name.
pub const MAX_NAME: usize = 64;

/// Why `name` breaks the grammar, if it does.
fn grammar_error(name: &str) -> Option<String> {
    let first = name.chars().next()?;
    if name.len() > MAX_NAME {
        return Some(format!("is longer than {MAX_NAME} characters"));
    }
    if !first.is_ascii_alphanumeric() {
        return Some("must start with a letter or digit".into());
    }
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .map(|c| format!("holds {c:?}; use letters, digits, '-', '_' and '.'"))
}

/// Checks a model name as given (model names are case-sensitive and never rewritten).
///
/// # Errors
/// The name is empty or breaks the grammar; the message says how.
pub fn model_name(name: &str) -> Result<&str> {
    if name.is_empty() {
        return Err(RegistryError::Invalid(
            "the model name is empty; name the model (letters, digits, '-', '_', '.')".into(),
        ));
    }
    match grammar_error(name) {
        None => Ok(name),
        Some(why) => Err(RegistryError::Invalid(format!("model name {name:?} {why}"))),
    }
}

/// Normalises an alias (trimmed, lower-case) and checks it.
///
/// # Errors
/// The alias is empty or breaks the grammar (`../../x`, `a b`); the message says how.
pub fn alias_name(alias: &str) -> Result<String> {
    let normal = alias.trim().to_ascii_lowercase();
    if normal.is_empty() {
        return Err(RegistryError::Invalid(
            "the alias is empty; name one such as production, staging or canary".into(),
        ));
    }
    match grammar_error(&normal) {
        None => Ok(normal),
        Some(why) => Err(RegistryError::Invalid(format!("alias {alias:?} {why}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_registry_cannot_address_are_refused() {
        for bad in ["", "a/b", "m@production", "line\nbreak", " lead", "ü", ".x"] {
            assert!(model_name(bad).is_err(), "{bad:?}");
        }
        assert!(model_name(&"x".repeat(65)).is_err());
        for good in ["adult", "adult-demo", "Census_2024.v2", "7"] {
            assert_eq!(model_name(good).unwrap(), good);
        }
    }

    #[test]
    fn aliases_are_normalised_and_checked() {
        assert_eq!(alias_name("Production").unwrap(), "production");
        assert_eq!(alias_name("production ").unwrap(), "production");
        for bad in ["", "  ", "../../x", "a b", "x@y"] {
            assert!(alias_name(bad).is_err(), "{bad:?}");
        }
    }
}
