//! The console's page frame: one self-contained HTML document per page (styles inline,
//! nothing from a CDN, readable without JavaScript), the red/amber/green summary every
//! page opens with, and numbers that carry their plain-words explanation.

/// Escapes text for HTML element content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    distillery_monitor::render::escape(s)
}

/// What needs attention on a page, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    /// Nothing to do.
    Green,
    /// Worth a look.
    Amber,
    /// Act.
    Red,
}

/// The summary at the top of a page: a colour, what it means and what to do.
pub(crate) fn summary(status: Status, headline: &str, todo: &[String]) -> String {
    let (class, word) = match status {
        Status::Green => ("green", "All clear"),
        Status::Amber => ("amber", "Worth a look"),
        Status::Red => ("red", "Needs attention"),
    };
    let items: String = todo
        .iter()
        .map(|t| format!("<li>{}</li>", esc(t)))
        .collect();
    let list = if items.is_empty() {
        String::new()
    } else {
        format!("<ul>{items}</ul>")
    };
    format!(
        "<section class=\"summary {class}\" role=\"status\" aria-label=\"summary\"><strong>{word}.</strong> {}{list}</section>",
        esc(headline)
    )
}

/// Plain-words explanations of the numbers the console shows, by name.
pub(crate) fn explain(metric: &str) -> &'static str {
    match metric {
        "accuracy" => "accuracy: the share of test rows the model labels correctly",
        "teacher_accuracy" => {
            "teacher accuracy: the same, for the big model the student learned from"
        }
        "fidelity" => "fidelity: how often the student agrees with its teacher",
        "macro_f1" => {
            "macro F1: the balance of precision and recall, averaged over classes so rare classes count"
        }
        "log_loss" => "log loss: how confident and right the probabilities are (lower is better)",
        "bytes" => "size: the student file's size; smaller ships to smaller devices",
        "latency" => "latency: time to label one row on one CPU core",
        "parameters" => "parameters: the number of weights the student has",
        "gates" => "gates: the checks a run must pass before it is registered",
        "seconds" => "time: how long the whole run took",
        "ece" => {
            "calibration error: how far predicted probabilities are from observed frequencies (lower is better)"
        }
        _ => "",
    }
}

/// A label with its metric's explanation on hover and for screen readers.
pub(crate) fn explained(label: &str, metric: &str) -> String {
    let why = explain(metric);
    if why.is_empty() {
        esc(label)
    } else {
        format!("<abbr title=\"{}\">{}</abbr>", esc(why), esc(label))
    }
}

/// A column header, explained.
pub(crate) fn th(label: &str, metric: &str) -> String {
    format!("<th scope=\"col\">{}</th>", explained(label, metric))
}

/// A number to `digits` decimals, `–` when absent or not finite.
pub(crate) fn num(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) if v.is_finite() => format!("{v:.digits$}"),
        _ => "–".into(),
    }
}

/// "1 run", "2 runs".
pub(crate) fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// Bytes as kB or MB.
pub(crate) fn size(bytes: Option<f64>) -> String {
    match bytes {
        Some(b) if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        Some(b) if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        Some(b) => format!("{b:.0} B"),
        None => "–".into(),
    }
}

/// Microseconds as µs or ms.
pub(crate) fn micros(us: Option<f64>) -> String {
    match us {
        Some(u) if u >= 1000.0 => format!("{:.2} ms", u / 1000.0),
        Some(u) => format!("{u:.2} µs"),
        None => "–".into(),
    }
}

/// Which navigation entry is the current page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Runs,
    Models,
    Deployments,
    Health,
    Approvals,
    Login,
}

const STYLE: &str = "
:root{--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--bg:#fff;--link:#0550ae}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);background:var(--bg);margin:0}
a{color:var(--link)}
a:focus,button:focus,input:focus,select:focus,summary:focus{outline:3px solid #0969da;outline-offset:2px}
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px 8px}
header{border-bottom:1px solid var(--line);padding:10px 24px;display:flex;gap:24px;align-items:baseline}
header .brand{font-weight:700;font-size:17px}
nav a{margin-right:16px;text-decoration:none}
nav a[aria-current=page]{font-weight:700;text-decoration:underline}
main{padding:16px 24px;max-width:1280px}
h1{font-size:22px;margin:8px 0 12px}
h2{font-size:18px;margin:24px 0 8px}
table{border-collapse:collapse;width:100%;margin:8px 0}
th,td{border-bottom:1px solid var(--line);padding:6px 8px;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
abbr{text-decoration:underline dotted;cursor:help}
.summary{border-left:6px solid;padding:10px 14px;margin:8px 0 16px;background:#f6f8fa}
.summary ul{margin:6px 0 0 18px;padding:0}
.green{border-color:#1a7f37}.amber{border-color:#9a6700}.red{border-color:#cf222e}
.pass{color:#1a7f37;font-weight:600}.fail{color:#cf222e;font-weight:600}
.muted,small{color:var(--muted)}
form.filters{display:flex;gap:12px;align-items:end;flex-wrap:wrap;margin:8px 0}
label{display:flex;flex-direction:column;font-size:13px;color:var(--muted)}
input,select,button,textarea{font:inherit;padding:4px 8px}
pre.diff{background:#f6f8fa;padding:8px;overflow:auto}
.add{background:#dafbe1}.del{background:#ffebe9}
iframe{width:100%;height:80vh;border:1px solid var(--line)}
form.stack{display:flex;flex-direction:column;gap:6px;max-width:420px}
form.stack label{color:var(--fg);font-size:14px}
form.inline{display:inline-flex;gap:8px;align-items:end;margin:4px 12px 4px 0}
.card{border:1px solid var(--line);border-radius:6px;padding:12px 16px;margin:12px 0}
.card h2{margin-top:0}
.grid2{display:grid;grid-template-columns:1fr 1fr;gap:16px}
textarea{font:inherit;padding:6px;min-height:4em}
button.danger{border:1px solid #cf222e;color:#a40e26;background:#fff}
button{cursor:pointer}
";

/// A whole page.
pub(crate) fn page(title: &str, section: Section, body: &str) -> String {
    let link = |s: Section, href: &str, label: &str| {
        let current = if s == section {
            " aria-current=\"page\""
        } else {
            ""
        };
        format!("<a href=\"{href}\"{current}>{label}</a>")
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} · distillery</title><style>{STYLE}</style></head><body>\
<a class=\"skip\" href=\"#main\">Skip to the content</a>\
<header><span class=\"brand\">distillery</span><nav aria-label=\"console\">{}{}{}{}{}{}</nav></header>\
<main id=\"main\">{body}</main></body></html>",
        esc(title),
        link(Section::Runs, "/ui/runs", "Runs"),
        link(Section::Models, "/ui/models", "Models"),
        link(Section::Deployments, "/ui/deployments", "Deployments"),
        link(Section::Health, "/ui/health", "Health"),
        link(Section::Approvals, "/ui/approvals", "Approvals"),
        link(Section::Login, "/ui/login", "Operator"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_data_never_becomes_markup() {
        assert_eq!(esc("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
        let p = page("<b>", Section::Runs, "");
        assert!(p.contains("<title>&lt;b&gt; · distillery</title>"));
        assert!(p.contains("aria-current=\"page\">Runs"));
    }

    #[test]
    fn numbers_say_what_they_are() {
        assert_eq!(size(Some(48_642.0)), "48.6 kB");
        assert_eq!(micros(Some(0.411)), "0.41 µs");
        assert_eq!(num(None, 3), "–");
        assert!(th("Fidelity", "fidelity").contains("agrees with its teacher"));
    }
}
