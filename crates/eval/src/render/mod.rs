//! Human-readable renderings of a [`Report`](crate::run_report::Report): the
//! self-contained `report.html` and the Markdown `model_card.md`.

mod card;
mod governance;
mod html;
mod svg;

pub use card::model_card;
pub use html::html;

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A number to `digits` decimals; `–` for NaN (a measurement that was not possible).
pub fn num(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "–".into()
    }
}

/// A gate's threshold or value: whole numbers (bytes) without decimals, others to 4.
pub fn gate_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        num(v, 4)
    }
}

/// An optional number to `digits` decimals.
pub(crate) fn opt_num(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| num(v, digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
