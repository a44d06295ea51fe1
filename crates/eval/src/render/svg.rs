//! Hand-written SVG charts for the HTML report: heat-map matrices, the reliability diagram
//! and Pareto scatter plots. Plain strings, no script, so the report renders anywhere.

use std::fmt::Write;

use super::escape;

/// Colours of the series, in order (teacher, student, scratch, int8).
pub(crate) const PALETTE: [&str; 4] = ["#6b7280", "#2563eb", "#d97706", "#059669"];

/// A count matrix as a heat map with row and column labels and the counts in the cells.
pub(crate) fn heatmap(
    title: &str,
    m: &[Vec<u64>],
    labels: &[String],
    rows: &str,
    cols: &str,
) -> String {
    let k = m.len().max(1);
    let cell = (240 / k).clamp(18, 60);
    let (left, top) = (110, 40);
    // Column labels that do not fit under their cell are written at 45°.
    let widest = labels
        .iter()
        .map(|l| l.chars().count().min(14))
        .max()
        .unwrap_or(0);
    let slanted = widest * 7 > cell;
    let room = if slanted { widest * 5 + 12 } else { 16 };
    let (w, h) = (
        (left + cell * k + 20).max(left + 8 * title.chars().count()),
        top + cell * k + room + 34,
    );
    let max = m.iter().flatten().copied().max().unwrap_or(1).max(1) as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" role="img" aria-label="{t}"><title>{t}</title>"#,
        t = escape(title)
    );
    let _ = write!(
        s,
        r#"<text x="{left}" y="16" class="chart-title">{}</text>"#,
        escape(title)
    );
    for (i, row) in m.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            let shade = (v as f64 / max).sqrt();
            let light = 97.0 - 55.0 * shade;
            let (x, y) = (left + j * cell, top + i * cell);
            let _ = write!(
                s,
                r##"<rect x="{x}" y="{y}" width="{cell}" height="{cell}" fill="hsl(217,70%,{light:.0}%)" stroke="#fff"/>"##
            );
            if cell >= 24 {
                let colour = if light < 60.0 { "#fff" } else { "#111" };
                let _ = write!(
                    s,
                    r#"<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="{colour}">{v}</text>"#,
                    x + cell / 2,
                    y + cell / 2 + 4
                );
            }
        }
    }
    for (i, l) in labels.iter().enumerate().take(k) {
        let label = escape(&short(l, 14));
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-size="11">{label}</text>"#,
            left - 6,
            top + i * cell + cell / 2 + 4
        );
        let (x, y) = (left + i * cell + cell / 2, top + k * cell + 14);
        if slanted {
            let _ = write!(
                s,
                r#"<text x="{x}" y="{y}" text-anchor="end" font-size="11" transform="rotate(-45 {x} {y})">{label}</text>"#
            );
        } else {
            let _ = write!(
                s,
                r#"<text x="{x}" y="{y}" text-anchor="middle" font-size="11">{label}</text>"#
            );
        }
    }
    let _ = write!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" font-size="11" fill="#555">{}</text><text x="12" y="{}" font-size="11" fill="#555" transform="rotate(-90 12 {})" text-anchor="middle">{}</text></svg>"##,
        left + k * cell / 2,
        top + k * cell + room + 20,
        escape(cols),
        top + k * cell / 2,
        top + k * cell / 2,
        escape(rows)
    );
    s
}

/// One series of a reliability diagram: mean confidence vs accuracy per non-empty bin.
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) colour: &'a str,
    pub(crate) points: Vec<(f64, f64)>,
}

/// Reliability diagram: accuracy against confidence, the diagonal is perfect calibration.
pub(crate) fn reliability(series: &[Series<'_>]) -> String {
    lines(
        "reliability diagram",
        ("top-label confidence", 1.0),
        "accuracy",
        series,
        true,
    )
}

/// Robustness curve: accuracy against the attack's radius ε, from 0 to `max_epsilon`.
pub(crate) fn robustness(series: &[Series<'_>], max_epsilon: f64) -> String {
    lines(
        "robust accuracy against ε",
        ("ε (standard deviations)", max_epsilon),
        "accuracy",
        series,
        false,
    )
}

/// Lines of `(x, y)` points with y in [0, 1] and x in [0, `x.1`], a legend on the right,
/// and (with `diagonal`) the line y = x.
fn lines(
    label: &str,
    x: (&str, f64),
    y_label: &str,
    series: &[Series<'_>],
    diagonal: bool,
) -> String {
    let (left, top, size) = (50.0, 20.0, 260.0);
    let x_max = if x.1 > 0.0 { x.1 } else { 1.0 };
    let px = |v: f64| left + v / x_max * size;
    let py = |v: f64| top + (1.0 - v) * size;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="{label}"><title>{label}</title>"#,
        left + size + 180.0,
        top + size + 45.0
    );
    axes(&mut s, left, top, size, (x.0, x_max), y_label);
    if diagonal {
        let _ = write!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#bbb" stroke-dasharray="4 3"/>"##,
            px(0.0),
            py(0.0),
            px(x_max),
            py(1.0)
        );
    }
    for (i, series) in series.iter().enumerate() {
        let path: Vec<String> = series
            .points
            .iter()
            .map(|&(c, a)| format!("{:.1},{:.1}", px(c), py(a)))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            series.colour,
            path.join(" ")
        );
        for &(c, a) in &series.points {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{}"/>"#,
                px(c),
                py(a),
                series.colour
            );
        }
        legend(
            &mut s,
            left + size + 15.0,
            top + 10.0 + 18.0 * i as f64,
            series.colour,
            series.name,
        );
    }
    s.push_str("</svg>");
    s
}

/// One point of a Pareto chart.
pub(crate) struct ParetoPoint<'a> {
    pub(crate) label: &'a str,
    pub(crate) accuracy: f64,
    pub(crate) cost: f64,
    pub(crate) on_front: bool,
    pub(crate) picked: bool,
}

/// Accuracy against a cost on a log axis; the front is joined by a line, the picked point ringed.
pub(crate) fn pareto(title: &str, cost_label: &str, points: &[ParetoPoint<'_>]) -> String {
    let (left, top, width, height) = (60.0, 28.0, 360.0, 220.0);
    let finite: Vec<&ParetoPoint<'_>> = points
        .iter()
        .filter(|p| p.cost.is_finite() && p.cost > 0.0)
        .collect();
    let (cmin, cmax) = finite.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.cost), hi.max(p.cost))
    });
    let (amin, amax) = finite.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), p| {
        (lo.min(p.accuracy), hi.max(p.accuracy))
    });
    let (lc0, lc1) = (cmin.max(1e-12).log10() - 0.1, cmax.max(1e-12).log10() + 0.1);
    let pad = ((amax - amin) * 0.1).max(0.005);
    let (a0, a1) = (amin - pad, amax + pad);
    let px = |c: f64| left + (c.log10() - lc0) / (lc1 - lc0).max(1e-9) * width;
    let py = |a: f64| top + (1.0 - (a - a0) / (a1 - a0).max(1e-9)) * height;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" role="img" aria-label="{t}"><title>{t}</title><text x="{left}" y="16" class="chart-title">{t}</text>"#,
        left + width + 20.0,
        top + height + 45.0,
        t = escape(title)
    );
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{width}" height="{height}" fill="none" stroke="#999"/><text x="{}" y="{}" text-anchor="middle" font-size="11">{} (log scale)</text><text x="14" y="{}" font-size="11" transform="rotate(-90 14 {})" text-anchor="middle">accuracy</text>"##,
        left + width / 2.0,
        top + height + 36.0,
        escape(cost_label),
        top + height / 2.0,
        top + height / 2.0
    );
    for (v, anchor) in [(a0 + pad, "end"), (a1 - pad, "end")] {
        let _ = write!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="{anchor}" font-size="10">{v:.3}</text>"#,
            left - 4.0,
            py(v) + 3.0
        );
    }
    for v in [cmin, cmax] {
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10">{}</text>"#,
            px(v),
            top + height + 14.0,
            compact(v)
        );
    }
    let mut front: Vec<&&ParetoPoint<'_>> = finite.iter().filter(|p| p.on_front).collect();
    front.sort_by(|a, b| a.cost.total_cmp(&b.cost));
    let line: Vec<String> = front
        .iter()
        .map(|p| format!("{:.1},{:.1}", px(p.cost), py(p.accuracy)))
        .collect();
    let _ = write!(
        s,
        r#"<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/>"#,
        PALETTE[1],
        line.join(" ")
    );
    for p in &finite {
        let (x, y) = (px(p.cost), py(p.accuracy));
        let fill = if p.on_front { PALETTE[1] } else { "#bbb" };
        let _ = write!(
            s,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{fill}"><title>{}</title></circle>"#,
            escape(p.label)
        );
        if p.picked {
            let _ = write!(
                s,
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="8" fill="none" stroke="#dc2626" stroke-width="2"/><text x="{:.1}" y="{:.1}" font-size="11" fill="#dc2626">picked</text>"##,
                x + 10.0,
                y - 8.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// The square plot frame with its labels; x ticks at 0, half and all of `x.1`.
fn axes(s: &mut String, left: f64, top: f64, size: f64, x: (&str, f64), y: &str) {
    let (x, x_max) = x;
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#999"/><text x="{}" y="{}" text-anchor="middle" font-size="11">{x}</text><text x="14" y="{}" font-size="11" transform="rotate(-90 14 {})" text-anchor="middle">{y}</text>"##,
        left + size / 2.0,
        top + size + 34.0,
        top + size / 2.0,
        top + size / 2.0
    );
    for t in [0.0, 0.5, 1.0] {
        let tick = (t * x_max * 1000.0).round() / 1000.0;
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" text-anchor="middle" font-size="10">{tick}</text><text x="{}" y="{:.1}" text-anchor="end" font-size="10">{t}</text>"#,
            left + t * size,
            top + size + 14.0,
            left - 4.0,
            top + (1.0 - t) * size + 3.0
        );
    }
}

fn legend(s: &mut String, x: f64, y: f64, colour: &str, name: &str) {
    let _ = write!(
        s,
        r#"<rect x="{x}" y="{}" width="12" height="12" fill="{colour}"/><text x="{}" y="{}" font-size="12">{}</text>"#,
        y - 10.0,
        x + 18.0,
        y,
        escape(name)
    );
}

/// `1234` → `1.2k`, `0.5` → `0.5`.
fn compact(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{:.1}M", v / 1e6),
        v if v >= 1e3 => format!("{:.1}k", v / 1e3),
        v if v >= 10.0 => format!("{v:.0}"),
        v => format!("{v:.2}"),
    }
}

fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n - 1).collect();
        t.push('…');
        t
    }
}
