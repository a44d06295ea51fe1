//! The lineage of a model's versions drawn as SVG: dataset → teacher → run → version →
//! aliases, one row per version, so where a served student came from is one look away.

use super::page::esc;

/// One version's chain.
pub(crate) struct Chain {
    pub(crate) dataset: String,
    pub(crate) teacher: String,
    pub(crate) run: String,
    pub(crate) version: String,
    pub(crate) aliases: Vec<String>,
}

const COLUMNS: [&str; 5] = ["dataset", "teacher", "run", "version", "aliases"];
const W: f64 = 170.0;
const GAP: f64 = 36.0;
const H: f64 = 34.0;
const ROW: f64 = 50.0;

/// Shortens a label to fit a box.
fn fit(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let head: String = s.chars().take(n - 1).collect();
        format!("{head}…")
    }
}

/// The graph; an empty string for no versions.
pub(crate) fn svg(chains: &[Chain]) -> String {
    if chains.is_empty() {
        return String::new();
    }
    let width = 5.0 * W + 4.0 * GAP + 2.0;
    let height = 28.0 + chains.len() as f64 * ROW;
    let mut s = format!(
        "<svg role=\"img\" aria-labelledby=\"lineage-title\" viewBox=\"0 0 {width} {height}\" width=\"100%\" style=\"max-width:{width}px\" xmlns=\"http://www.w3.org/2000/svg\" font-family=\"system-ui,sans-serif\" font-size=\"12\">\
<title id=\"lineage-title\">Lineage: for each version, the dataset and teacher it was distilled from, its run, and the aliases that point at it</title>\
<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#57606a\"/></marker></defs>"
    );
    for (i, c) in COLUMNS.iter().enumerate() {
        let x = 1.0 + i as f64 * (W + GAP);
        s.push_str(&format!(
            "<text x=\"{}\" y=\"16\" fill=\"#57606a\" font-weight=\"600\">{c}</text>",
            x + 4.0
        ));
    }
    for (row, chain) in chains.iter().enumerate() {
        let y = 26.0 + row as f64 * ROW;
        let aliases = if chain.aliases.is_empty() {
            "–".to_string()
        } else {
            chain.aliases.join(", ")
        };
        let labels = [
            chain.dataset.as_str(),
            chain.teacher.as_str(),
            chain.run.as_str(),
            chain.version.as_str(),
            aliases.as_str(),
        ];
        for (i, label) in labels.iter().enumerate() {
            let x = 1.0 + i as f64 * (W + GAP);
            let fill = if i == 4 && !chain.aliases.is_empty() {
                "#dafbe1"
            } else {
                "#f6f8fa"
            };
            s.push_str(&format!(
                "<g><title>{full}</title><rect x=\"{x}\" y=\"{y}\" width=\"{W}\" height=\"{H}\" rx=\"6\" fill=\"{fill}\" stroke=\"#8c959f\"/>\
<text x=\"{}\" y=\"{}\" fill=\"#1b1f24\">{}</text></g>",
                x + 8.0,
                y + 21.0,
                esc(&fit(label, 24)),
                full = esc(label)
            ));
            if i < 4 {
                s.push_str(&format!(
                    "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#57606a\" marker-end=\"url(#arrow)\"/>",
                    x + W,
                    y + H / 2.0,
                    x + W + GAP - 2.0,
                    y + H / 2.0
                ));
            }
        }
    }
    s.push_str("</svg>");
    s
}
