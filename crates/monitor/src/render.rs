//! The drift report as a self-contained HTML page (no scripts, no network): a verdict, a
//! table of every column's test, and per column the reference and current distributions
//! drawn side by side as SVG bars over the buckets the tests used.

use std::fmt::Write;

use crate::drift::{ColumnDrift, DriftReport};
use crate::profile::{ColumnProfile, Profile};
use crate::stattest::binning::plot_buckets;

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 150.0;

/// Renders `report`, drawing each column from the two profiles it was computed from.
pub fn html(report: &DriftReport, reference: &Profile, current: &Profile) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let verdict = if report.dataset_drift {
        "dataset drift"
    } else {
        "no dataset drift"
    };
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>distillery drift report</title>\
         <style>body{{font:14px system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}}\
         table{{border-collapse:collapse}}td,th{{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}}\
         .drift{{color:#b00020;font-weight:600}}.ok{{color:#1b5e20}}.cards{{display:flex;flex-wrap:wrap;gap:16px}}\
         .card{{border:1px solid #ddd;border-radius:6px;padding:8px 12px}}.legend span{{margin-right:1em}}</style>\
         </head><body><h1 id=\"drift\">Drift report</h1>\
         <p class=\"{cls}\">{verdict}: {d} of {n} columns drifted ({share:.0}%; the dataset drifts at {thr:.0}%).</p>\
         <p>Reference: {rr} rows ({rs}). Current: {cr} rows ({cs}).</p>",
        cls = if report.dataset_drift { "drift" } else { "ok" },
        d = report.drifted_columns,
        n = report.columns_compared,
        share = report.share_drifted * 100.0,
        thr = report.drift_share * 100.0,
        rr = report.reference_rows,
        rs = escape(&reference.source),
        cr = report.current_rows,
        cs = escape(&current.source),
    );
    for w in &report.warnings {
        let _ = write!(out, "<p class=\"drift\">Warning: {}</p>", escape(w));
    }
    if let Some(m) = &report.multivariate {
        let _ = write!(
            out,
            "<p id=\"multivariate\" class=\"{cls}\">Joint distribution ({r} + {c} rows, {d} inputs): MMD² {mmd:.4e} \
             (permutation p = {pm:.4}); domain classifier AUC {auc:.4} (p = {pa:.4}) → {verdict}.</p>",
            cls = if m.drifted { "drift" } else { "ok" },
            r = m.reference_rows,
            c = m.current_rows,
            d = m.dimensions,
            mmd = m.mmd2,
            pm = m.mmd_p_value,
            auc = m.classifier_auc,
            pa = m.classifier_p_value,
            verdict = if m.drifted { "drift" } else { "no drift" },
        );
    }
    table(&mut out, "Features", &report.columns);
    if !report.prediction.is_empty() {
        table(&mut out, "Predictions", &report.prediction);
    }
    out.push_str(
        "<h2 id=\"distributions\">Distributions</h2><p class=\"legend\">\
         <span style=\"color:#7a869a\">■ reference</span><span style=\"color:#e8710a\">■ current</span></p>\
         <div class=\"cards\">",
    );
    let reference_columns = columns_with_predictions(reference);
    let current_columns = columns_with_predictions(current);
    for c in report.columns.iter().chain(&report.prediction) {
        let find = |cols: &[ColumnProfile]| cols.iter().find(|p| p.name == c.column).cloned();
        if let (Some(r), Some(k)) = (find(&reference_columns), find(&current_columns)) {
            card(&mut out, c, &r, &k);
        }
    }
    out.push_str("</div></body></html>\n");
    out
}

fn columns_with_predictions(p: &Profile) -> Vec<ColumnProfile> {
    let mut cols = p.columns.clone();
    if let Some(pred) = &p.prediction {
        cols.extend(pred.as_columns());
    }
    cols
}

fn table(out: &mut String, title: &str, rows: &[ColumnDrift]) {
    let _ = write!(
        out,
        "<h2>{title}</h2><table><tr><th>column</th><th>kind</th><th>test</th><th>score</th>\
         <th>threshold</th><th>drift</th><th>PSI</th><th>missing (ref → cur)</th></tr>"
    );
    for c in rows {
        let _ = write!(
            out,
            "<tr><td><a href=\"#col-{id}\">{name}</a></td><td>{kind}</td><td>{test}{how}</td><td>{score:.4e}</td>\
             <td>{thr}</td><td class=\"{cls}\">{verdict}</td><td>{psi:.4}</td><td>{mr:.1}% → {mc:.1}%</td></tr>",
            id = anchor(&c.column),
            name = escape(&c.column),
            kind = c.kind,
            test = c.outcome.test.name(),
            how = if c.chosen_by == "override" {
                " (set)"
            } else {
                ""
            },
            score = c.outcome.score,
            thr = c.outcome.threshold,
            cls = if c.outcome.drifted { "drift" } else { "ok" },
            verdict = if c.outcome.drifted { "drift" } else { "ok" },
            psi = c.psi,
            mr = c.reference_missing_share * 100.0,
            mc = c.current_missing_share * 100.0,
        );
    }
    out.push_str("</table>");
}

fn card(out: &mut String, c: &ColumnDrift, reference: &ColumnProfile, current: &ColumnProfile) {
    let (labels, r, k) = plot_buckets(&reference.distribution, &current.distribution);
    let _ = write!(
        out,
        "<div class=\"card\" id=\"col-{id}\"><b>{name}</b> — {test} {score:.3e} <span class=\"{cls}\">{verdict}</span><br>",
        id = anchor(&c.column),
        name = escape(&c.column),
        test = c.outcome.test.name(),
        score = c.outcome.score,
        cls = if c.outcome.drifted { "drift" } else { "ok" },
        verdict = if c.outcome.drifted { "drift" } else { "ok" },
    );
    let top = r
        .iter()
        .chain(&k)
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let slot = WIDTH / labels.len().max(1) as f64;
    let bar = (slot / 2.0 - 1.0).max(0.5);
    let _ = write!(
        out,
        "<svg width=\"{WIDTH}\" height=\"{h}\" role=\"img\" aria-label=\"{name} distributions\">",
        h = HEIGHT + 4.0,
        name = escape(&c.column)
    );
    for (i, label) in labels.iter().enumerate() {
        let x = i as f64 * slot;
        for (j, (share, colour)) in [(r[i], "#7a869a"), (k[i], "#e8710a")]
            .into_iter()
            .enumerate()
        {
            let h = share / top * HEIGHT;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{h:.1}\" fill=\"{colour}\">\
                 <title>{label}: {side} {pct:.2}%</title></rect>",
                x = x + j as f64 * (bar + 1.0),
                y = HEIGHT - h,
                label = escape(label),
                side = if j == 0 { "reference" } else { "current" },
                pct = share * 100.0,
            );
        }
    }
    out.push_str("</svg>");
    if let (Some(first), Some(last)) = (labels.first(), labels.last()) {
        let from = first.split('–').next().unwrap_or(first);
        let to = last.rsplit('–').next().unwrap_or(last);
        let _ = write!(
            out,
            "<br><small>{} buckets, {} … {}</small>",
            labels.len(),
            escape(from),
            escape(to)
        );
    }
    out.push_str("</div>");
}

fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Escapes text for HTML element content and attribute values (also the console's).
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The live monitor as a self-contained page that refreshes itself every 10 seconds (no
/// script): per watched version, fidelity, drift share and estimated accuracy over the
/// recent windows as SVG lines, the last windows as a table, and the alerts.
pub fn live_html(states: &std::collections::BTreeMap<String, crate::live::LiveState>) -> String {
    let mut out = String::with_capacity(32 * 1024);
    out.push_str(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"10\">\
         <title>distillery monitor</title><style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}\
         table{border-collapse:collapse}td,th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:right}\
         .alert{color:#b00020;font-weight:600}.legend span{margin-right:1.2em}</style></head><body>\
         <h1>Live monitor</h1>",
    );
    if states.is_empty() {
        out.push_str("<p>No traffic watched yet.</p>");
    }
    for (key, s) in states {
        let _ = write!(
            out,
            "<h2 id=\"v-{id}\">{name}</h2><p>{rows} rows watched in {windows} windows; {alerts} alert(s); \
             disagreement alarms {dis}; feedback {fb_rows} rows, {fb_wrong} wrong.</p>",
            id = anchor(key),
            name = escape(key),
            rows = s.rows,
            windows = s.windows,
            alerts = s.alerts.len(),
            dis = s.disagreement_alarms,
            fb_rows = s.feedback.0,
            fb_wrong = s.feedback.1,
        );
        let series: [(&str, &str, Vec<Option<f64>>); 3] = [
            (
                "fidelity",
                "#1565c0",
                s.history.iter().map(|w| w.fidelity).collect(),
            ),
            (
                "drift share",
                "#e8710a",
                s.history.iter().map(|w| Some(w.drift_share)).collect(),
            ),
            (
                "estimated accuracy",
                "#2e7d32",
                s.history.iter().map(|w| w.estimated_accuracy).collect(),
            ),
        ];
        out.push_str("<p class=\"legend\">");
        for (label, colour, _) in &series {
            let _ = write!(out, "<span style=\"color:{colour}\">■ {label}</span>");
        }
        out.push_str("</p>");
        let _ = write!(
            out,
            "<svg width=\"{WIDTH}\" height=\"{h}\" role=\"img\" aria-label=\"{name} over windows\">",
            h = HEIGHT + 10.0,
            name = escape(key)
        );
        let _ = write!(
            out,
            "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"none\" stroke=\"#ddd\"/>"
        );
        let n = s.history.len().max(2) as f64;
        for (_, colour, values) in &series {
            let points: Vec<String> = values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| {
                    v.map(|v| {
                        format!(
                            "{:.1},{:.1}",
                            i as f64 / (n - 1.0) * WIDTH,
                            HEIGHT - v.clamp(0.0, 1.0) * HEIGHT
                        )
                    })
                })
                .collect();
            if !points.is_empty() {
                let _ = write!(
                    out,
                    "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
                    points.join(" ")
                );
            }
        }
        out.push_str("</svg>");
        out.push_str("<table><tr><th>window</th><th>rows</th><th>fidelity</th><th>teacher rows</th><th>drift share</th><th>est. accuracy</th><th>breaches</th></tr>");
        for w in s.history.iter().rev().take(10) {
            let fmt = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.4}"));
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td class=\"alert\">{}</td></tr>",
                w.window,
                w.rows,
                fmt(w.fidelity),
                w.teacher_rows,
                w.drift_share,
                fmt(w.estimated_accuracy),
                escape(&w.breaches.join("; "))
            );
        }
        out.push_str("</table>");
        if !s.alerts.is_empty() {
            out.push_str("<h3>Alerts</h3><ul>");
            for a in &s.alerts {
                let _ = write!(
                    out,
                    "<li class=\"alert\">window {}: {}</li>",
                    a.window,
                    escape(&a.reasons.join("; "))
                );
            }
            out.push_str("</ul>");
        }
    }
    out.push_str("</body></html>\n");
    out
}
