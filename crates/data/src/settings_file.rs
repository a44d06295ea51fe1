//! Errors in a user's TOML file (a recipe, `serve.toml`) in the user's words: the file, the
//! line of the bad value, and for an unknown key its `[section]` and the nearest known key.
//! Shared so every settings file of the project speaks alike.

use std::ops::Range;

/// Describes a TOML deserialization error: `file, line N: message`, with serde's
/// "unknown field `x`, expected one of …" rewritten as "unknown key 'x' in [section];
/// did you mean 'y'?" (or the list of known keys when none is near).
pub fn describe_toml_error(
    file: &str,
    text: &str,
    message: &str,
    span: Option<Range<usize>>,
) -> String {
    let message = unknown_key(text, message, span.clone()).unwrap_or_else(|| message.to_string());
    match span {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("{file}, line {line}: {message}")
        }
        None => format!("{file}: {message}"),
    }
}

fn unknown_key(text: &str, message: &str, span: Option<Range<usize>>) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    let section = span.and_then(|span| {
        text[..span.start.min(text.len())]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .map(|l| format!(" in {l}"))
    });
    let hint = known
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), k))
        .filter(|(s, _)| *s > 0.7)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("; did you mean '{k}'?"))
        .unwrap_or_else(|| format!("; known keys: {}", known.join(", ")));
    Some(format!(
        "unknown key '{key}'{}{hint}",
        section.unwrap_or_default()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_key_names_its_section_line_and_nearest_neighbour() {
        let text = "[a]\nx = 1\n[distill]\ntempreature = 2\n";
        let start = text.find("tempreature").unwrap();
        let message = "unknown field `tempreature`, expected one of `temperature`, `seed`";
        let described = describe_toml_error("r.toml", text, message, Some(start..start + 11));
        assert_eq!(
            described,
            "r.toml, line 4: unknown key 'tempreature' in [distill]; did you mean 'temperature'?"
        );
    }

    #[test]
    fn other_errors_keep_their_message() {
        assert_eq!(
            describe_toml_error("f", "", "invalid type: string", None),
            "f: invalid type: string"
        );
    }
}
