//! `report.html`: one self-contained page (inline CSS and SVG, no script, no network) with
//! the gate verdicts first, then models, fidelity, calibration, slices, ablations,
//! cross-validation and the data's provenance. Key numbers carry `id`s so tests and
//! scrapers can find them.

use std::fmt::Write;

use super::svg::{self, PALETTE, ParetoPoint, Series};
use super::{escape, num, opt_num};
use crate::run_report::{ModelSummary, Report};
use crate::slices::{Finding, SliceStats};

const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#111;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:4px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:14px;margin:14px 0 4px}
.meta{color:#555;font-size:12px}section{background:#fff;border:1px solid #e3e5e8;border-radius:6px;padding:12px 16px;margin:12px 0}
table{border-collapse:collapse;font-size:13px;margin:6px 0}th,td{padding:4px 8px;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f1f3f5}
.pass{color:#166534;font-weight:600}.fail{color:#b91c1c;font-weight:600}
.verdict{display:inline-block;padding:6px 12px;border-radius:4px;font-weight:700;font-size:15px}
.verdict.pass{background:#dcfce7}.verdict.fail{background:#fee2e2}
tr.worst td{background:#fff1f2}tr.picked td{background:#eff6ff;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}.chart-title{font-size:13px;font-weight:600}
.note{color:#555;font-size:12px}.ci{color:#666;font-size:11px;white-space:nowrap}code{background:#f1f3f5;padding:0 3px;border-radius:3px}
main:has(section:target) section:not(:target){display:none}";

/// Renders the report as one HTML page.
pub fn html(r: &Report) -> String {
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>distillery report: {}</title><style>{STYLE}</style></head><body><main>",
        escape(&r.name)
    );
    header(&mut s, r);
    headline(&mut s, r);
    gates(&mut s, r);
    models(&mut s, r);
    distillation_gain(&mut s, r);
    search(&mut s, r);
    deduplicated(&mut s, r);
    fidelity(&mut s, r);
    calibration(&mut s, r);
    slices(&mut s, r);
    int8_slices(&mut s, r);
    ablation(&mut s, r);
    cross_validation(&mut s, r);
    privacy(&mut s, r);
    evasion(&mut s, r);
    data(&mut s, r);
    s.push_str("<p class=\"note\">Accuracy intervals are 95% percentile-bootstrap intervals (1,000 resamples, seeded). ECE uses 15 equal-width bins on the top-label confidence; bins are (lo, hi] except the first, which also holds 0. Weak slices: one-sided Fisher exact test of the slice against all other rows, Benjamini–Hochberg false-discovery control, then a greedy covering that explains away slices weak only because of another.</p>");
    s.push_str("</main></body></html>\n");
    s
}

/// Opening `report.html#slices` (or any section id) shows that section alone, for linking
/// and for screenshots.
fn header(s: &mut String, r: &Report) {
    let _ = write!(
        s,
        "<h1>{} <span class=\"meta\">distillery {}</span></h1><div class=\"meta\">{} <code>{}</code> · {} · seed {} · {} test rows · {:.1} s</div>",
        escape(&r.name),
        escape(&r.tool_version),
        if r.kind == "eval" {
            "evaluation"
        } else {
            "run"
        },
        escape(&r.run_id),
        escape(&r.created),
        r.seed,
        r.dataset.test_rows,
        r.seconds
    );
}

/// One sentence a reviewer reads first.
fn headline(s: &mut String, r: &Report) {
    let st = &r.student;
    let _ = write!(
        s,
        "<p id=\"headline\" style=\"font-size:15px\">Student accuracy <b>{}</b>",
        num(st.accuracy, 4)
    );
    if let Some(t) = &r.teacher {
        let _ = write!(
            s,
            " vs teacher <b>{}</b> ({:+.2} points), fidelity <b>{}</b>",
            num(t.accuracy, 4),
            (st.accuracy - t.accuracy) * 100.0,
            num(st.fidelity, 4)
        );
        if let (Some(tl), Some(sl)) = (t.latency_us, st.latency_us) {
            let _ = write!(s, "; <b>{:.0}×</b> faster per row", tl / sl);
        }
        if let (Some(tb), Some(sb)) = (t.bytes, st.bytes) {
            let _ = write!(s, ", <b>{:.0}×</b> smaller", tb as f64 / sb as f64);
        }
    }
    if let Some(g) = r.slices.as_ref().and_then(|sl| sl.gap.as_ref()) {
        let _ = write!(
            s,
            "; largest slice gap {} on <i>{}</i>",
            num(g.gap, 4),
            escape(&g.slice.name)
        );
    }
    s.push_str(".</p>");
}

fn gates(s: &mut String, r: &Report) {
    s.push_str("<section id=\"gates\"><h2>Gates</h2>");
    if r.gates.is_empty() {
        s.push_str(
            "<p>No gates are configured (<code>[gates]</code> in the recipe).</p></section>",
        );
        return;
    }
    let ok = r.gates_passed();
    let _ = write!(
        s,
        "<div id=\"verdict\" class=\"verdict {}\">{}</div><table><tr><th>gate</th><th>threshold</th><th>value</th><th>verdict</th><th>detail</th></tr>",
        if ok { "pass" } else { "fail" },
        if ok {
            "ALL GATES PASSED"
        } else {
            "GATE FAILED"
        }
    );
    for g in &r.gates {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            escape(&g.gate),
            super::gate_num(g.threshold),
            super::gate_num(g.value),
            if g.passed { "pass" } else { "fail" },
            if g.passed { "PASS" } else { "FAIL" },
            escape(g.detail.as_deref().unwrap_or(""))
        );
    }
    s.push_str("</table></section>");
}

fn models(s: &mut String, r: &Report) {
    s.push_str("<section id=\"models\"><h2>Models</h2><table><tr><th>model</th><th>accuracy</th><th>macro-F1</th><th>log loss</th><th>ROC-AUC</th><th>Brier</th><th>ECE</th><th>fidelity</th><th>mean KL</th><th>params</th><th>size</th><th>latency</th></tr>");
    for (name, m) in r.models() {
        let iv = &m.quality.intervals;
        let _ = write!(
            s,
            "<tr><td title=\"{}\">{name}</td><td><span id=\"{name}-accuracy\">{}</span>{}</td><td>{}{}</td><td>{}{}</td><td>{}{}</td><td>{}{}</td><td>{}{}</td><td><span id=\"{name}-fidelity\">{}</span>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&m.kind),
            num(m.accuracy, 4),
            ci(Some(iv.accuracy)),
            num(m.macro_f1, 4),
            ci(Some(iv.macro_f1)),
            num(m.log_loss, 4),
            ci(Some(iv.log_loss)),
            opt_num(m.quality.roc_auc, 4),
            ci(iv.roc_auc),
            num(m.quality.brier, 4),
            ci(Some(iv.brier)),
            num(m.quality.ece, 4),
            ci(Some(iv.ece)),
            num(m.fidelity, 4),
            ci(iv.fidelity),
            num(m.mean_kl, 4),
            m.parameters.map_or("–".into(), |p| p.to_string()),
            m.bytes.map_or("–".into(), crate::run_report::human_bytes),
            m.latency_us.map_or("–".into(), |l| format!("{l:.2} µs")),
        );
    }
    s.push_str("</table><p class=\"note\">Under each value: its 95% bootstrap interval.</p>");
    per_class(s, r, &r.student);
    s.push_str("<div class=\"charts\">");
    for (name, m) in r.models().into_iter().take(2) {
        s.push_str(&svg::heatmap(
            &format!("{name}: confusion matrix"),
            &m.quality.confusion,
            &r.dataset.classes,
            "true class",
            "predicted class",
        ));
    }
    s.push_str("</div></section>");
}

/// A 95% interval as a small second line of a table cell.
fn ci(i: Option<crate::Interval>) -> String {
    i.filter(|i| i.lo.is_finite())
        .map(|i| {
            format!(
                "<br><span class=\"ci\">[{}, {}]</span>",
                num(i.lo, 4),
                num(i.hi, 4)
            )
        })
        .unwrap_or_default()
}

fn per_class(s: &mut String, r: &Report, m: &ModelSummary) {
    let c = &m.quality.classes;
    s.push_str("<table><tr><th>student, class</th><th>precision</th><th>recall</th><th>F1</th><th>support</th></tr>");
    for (i, pc) in c.per_class.iter().enumerate() {
        let name = r.dataset.classes.get(i).map_or("?", String::as_str);
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(name),
            num(pc.precision, 4),
            num(pc.recall, 4),
            num(pc.f1, 4),
            pc.support
        );
    }
    for (name, a) in [
        ("macro", &c.macro_avg),
        ("micro", &c.micro_avg),
        ("weighted", &c.weighted_avg),
    ] {
        let _ = write!(
            s,
            "<tr><td><i>{name} average</i></td><td>{}</td><td>{}</td><td>{}</td><td></td></tr>",
            num(a.precision, 4),
            num(a.recall, 4),
            num(a.f1, 4)
        );
    }
    s.push_str("</table>");
}

fn fidelity(s: &mut String, r: &Report) {
    let Some(f) = &r.fidelity else { return };
    let _ = write!(
        s,
        "<section id=\"fidelity\"><h2>Teacher–student fidelity</h2><p>The student picks the teacher's class on <b id=\"agreement\">{}</b> of the test rows; mean KL(teacher ‖ student) = {} nats.</p>{}</section>",
        num(f.agreement, 4),
        num(f.mean_kl, 4),
        svg::heatmap(
            "disagreement matrix",
            &f.disagreement,
            &r.dataset.classes,
            "teacher's class",
            "student's class"
        )
    );
}

fn calibration(s: &mut String, r: &Report) {
    let series: Vec<Series<'_>> = r
        .models()
        .into_iter()
        .zip(PALETTE)
        .map(|((name, m), colour)| Series {
            name,
            colour,
            points: m
                .quality
                .reliability
                .iter()
                .filter(|b| b.count > 0)
                .map(|b| (b.confidence, b.accuracy))
                .collect(),
        })
        .collect();
    let _ = write!(
        s,
        "<section id=\"calibration\"><h2>Calibration</h2><p>Student ECE <b id=\"student-ece\">{}</b>, Brier {}.</p>{}</section>",
        num(r.student.quality.ece, 4),
        num(r.student.quality.brier, 4),
        svg::reliability(&series)
    );
}

fn slices(s: &mut String, r: &Report) {
    let Some(sl) = &r.slices else { return };
    s.push_str("<section id=\"slices\"><h2>Slices</h2>");
    match &sl.gap {
        Some(g) => {
            let _ = write!(
                s,
                "<p>Largest slice gap (teacher − student accuracy, slices with ≥ {} labelled rows): <b id=\"slice-gap\">{}</b> on <b>{}</b> ({} rows).</p>",
                sl.min_rows,
                num(g.gap, 4),
                escape(&g.slice.name),
                g.slice.labelled
            );
        }
        None => {
            let _ = write!(
                s,
                "<p>No slice has ≥ {} labelled rows and a teacher to compare with.</p>",
                sl.min_rows
            );
        }
    }
    let worst = sl.gap.as_ref().map(|g| g.slice.name.as_str());
    for group in &sl.declared {
        let _ = write!(s, "<h3>{}</h3>", escape(&group.feature));
        let group_worst = crate::slices::slice_gap(&group.slices, sl.min_rows);
        let worst = group_worst.as_ref().map(|g| g.slice.name.as_str());
        slice_table(s, &group.slices, worst, sl.min_rows);
    }
    if let Some(d) = &sl.discovery {
        let _ = write!(
            s,
            "<h3>Weakest slices found automatically</h3><p class=\"note\">Searched {} features: {} slices tested for accuracy, {} for fidelity (1- and 2-feature conjunctions with ≥ {} rows); false-discovery rate {}, effect size ≥ {}.</p>",
            d.features.len(),
            d.tested_accuracy,
            d.tested_fidelity,
            d.options.min_rows,
            d.options.fdr,
            d.options.min_effect
        );
        findings(s, "accuracy", &d.accuracy);
        findings(s, "fidelity", &d.fidelity);
        if sl.declared.is_empty() {
            s.push_str("<h3>Every single-feature slice</h3>");
            slice_table(s, &d.single, worst, sl.min_rows);
        }
    }
    s.push_str("</section>");
}

/// Column names of a slice table: the reference model, the model, and their agreement.
struct Columns {
    reference: &'static str,
    model: &'static str,
    gap: &'static str,
    agreement: &'static str,
}

const TEACHER_STUDENT: Columns = Columns {
    reference: "teacher accuracy",
    model: "student accuracy",
    gap: "gap",
    agreement: "fidelity",
};

const FP32_INT8: Columns = Columns {
    reference: "fp32 accuracy",
    model: "int8 accuracy",
    gap: "drop",
    agreement: "agreement",
};

fn slice_table(s: &mut String, slices: &[SliceStats], worst: Option<&str>, min_rows: usize) {
    slice_table_with(s, slices, worst, min_rows, &TEACHER_STUDENT);
}

fn slice_table_with(
    s: &mut String,
    slices: &[SliceStats],
    worst: Option<&str>,
    min_rows: usize,
    c: &Columns,
) {
    let _ = write!(
        s,
        "<table class=\"slices\"><tr><th>slice (worst with enough rows shaded)</th><th>rows</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>mean KL</th></tr>",
        c.reference, c.model, c.gap, c.agreement
    );
    for sl in slices {
        let class = if Some(sl.name.as_str()) == worst {
            " class=\"worst\""
        } else {
            ""
        };
        let small = if sl.labelled < min_rows {
            " <span class=\"note\">(few rows)</span>"
        } else {
            ""
        };
        let _ = write!(
            s,
            "<tr{class}><td>{}{small}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&sl.name),
            sl.rows,
            opt_num(sl.teacher_accuracy, 4),
            opt_num(sl.student_accuracy, 4),
            opt_num(sl.gap, 4),
            opt_num(sl.fidelity, 4),
            opt_num(sl.mean_kl, 4)
        );
    }
    s.push_str("</table>");
}

/// The int8 student against the fp32 student it was quantized from, slice by slice.
fn int8_slices(s: &mut String, r: &Report) {
    let (Some(sl), Some(q)) = (&r.int8_slices, &r.int8) else {
        return;
    };
    let _ = write!(
        s,
        "<section id=\"int8\"><h2>int8 vs fp32</h2><p>Overall accuracy drop {} ({} → {}).",
        num(r.student.accuracy - q.accuracy, 4),
        num(r.student.accuracy, 4),
        num(q.accuracy, 4),
    );
    if let Some(g) = &sl.gap {
        let _ = write!(
            s,
            " Largest drop in a slice with ≥ {} rows: <b id=\"int8-slice-drop\">{}</b> on <b>{}</b>.",
            sl.min_rows,
            num(g.gap, 4),
            escape(&g.slice.name)
        );
    }
    s.push_str("</p>");
    for group in &sl.declared {
        let _ = write!(s, "<h3>{}</h3>", escape(&group.feature));
        let worst = crate::slices::slice_gap(&group.slices, sl.min_rows);
        let worst = worst.as_ref().map(|g| g.slice.name.as_str());
        slice_table_with(s, &group.slices, worst, sl.min_rows, &FP32_INT8);
    }
    s.push_str("</section>");
}

fn findings(s: &mut String, metric: &str, list: &[Finding]) {
    if list.is_empty() {
        let _ = write!(s, "<p>No slice is significantly weaker in {metric}.</p>");
        return;
    }
    let _ = write!(
        s,
        "<table class=\"findings\" data-metric=\"{metric}\"><tr><th>weak in {metric}</th><th>rows</th><th>{metric}</th><th>other rows</th><th>effect size</th><th>q-value</th><th>teacher accuracy</th></tr>"
    );
    for f in list {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2e}</td><td>{}</td></tr>",
            escape(&f.slice.name),
            f.slice.rows,
            num(f.value, 4),
            num(f.rest, 4),
            num(f.effect_size, 2),
            f.q_value,
            opt_num(f.slice.teacher_accuracy, 4)
        );
    }
    s.push_str("</table>");
}

fn ablation(s: &mut String, r: &Report) {
    let Some(a) = &r.ablation else { return };
    s.push_str("<section id=\"ablation\"><h2>Ablations</h2><table><tr><th>model</th><th>kind</th><th>accuracy</th><th>macro-F1</th><th>fidelity</th><th>params</th><th>size</th><th>latency</th><th>latency front</th><th>size front</th><th>gates</th></tr>");
    for (i, row) in a.rows.iter().enumerate() {
        let class = if a.picked == Some(i) {
            " class=\"picked\""
        } else {
            ""
        };
        let _ = write!(
            s,
            "<tr{class}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&row.name),
            escape(&row.kind),
            num(row.accuracy, 4),
            num(row.macro_f1, 4),
            num(row.fidelity, 4),
            row.parameters.map_or("–".into(), |p| p.to_string()),
            row.bytes.map_or("–".into(), crate::run_report::human_bytes),
            row.latency_us.map_or("–".into(), |l| format!("{l:.2} µs")),
            if row.pareto_latency { "●" } else { "" },
            if row.pareto_bytes { "●" } else { "" },
            match row.meets_gates {
                Some(true) => "<span class=\"pass\">pass</span>",
                Some(false) => "<span class=\"fail\">fail</span>",
                None => "",
            }
        );
    }
    let _ = write!(
        s,
        "</table><p class=\"note\">Pick rule: {}.</p><div class=\"charts\">",
        escape(&a.rule)
    );
    let points = |cost: &dyn Fn(&crate::AblationRow) -> Option<f64>,
                  front: &dyn Fn(&crate::AblationRow) -> bool|
     -> Vec<ParetoPoint<'_>> {
        a.rows
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.kind.as_str(), "student" | "sweep"))
            .filter_map(|(i, r)| {
                cost(r).map(|c| ParetoPoint {
                    label: &r.name,
                    accuracy: r.accuracy,
                    cost: c,
                    on_front: front(r),
                    picked: a.picked == Some(i),
                })
            })
            .collect()
    };
    s.push_str(&svg::pareto(
        "accuracy vs single-row latency",
        "latency µs",
        &points(&|r| r.latency_us, &|r| r.pareto_latency),
    ));
    s.push_str(&svg::pareto(
        "accuracy vs model size",
        "bytes",
        &points(&|r| r.bytes.map(|b| b as f64), &|r| r.pareto_bytes),
    ));
    s.push_str("</div></section>");
}

/// Test scores without the test rows that repeat a training row, beside the full ones.
/// The distilled student against the scratch baseline on the same rows (McNemar).
fn distillation_gain(s: &mut String, r: &Report) {
    let Some(g) = &r.distillation_gain else {
        return;
    };
    let _ = write!(
        s,
        "<section id=\"distillation-gain\"><h2>Did distillation help?</h2><p>The distilled student against the same network trained on the labels alone, on the same rows; McNemar's exact test on the rows where only one of them is right.</p><table><tr><th>rows</th><th>n</th><th>student</th><th>scratch</th><th>only the student right</th><th>only scratch right</th><th>p</th><th>verdict</th></tr>"
    );
    for (what, c) in [("validation", &g.validation), ("test", &g.test)] {
        let _ = write!(
            s,
            "<tr><td>{what}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            c.rows,
            num(c.accuracy, 4),
            num(c.baseline_accuracy, 4),
            c.only_model_right,
            c.only_baseline_right,
            num(c.p_value, 3),
            escape(&c.verdict)
        );
    }
    s.push_str("</table></section>");
}

/// Every candidate of the student search, the Pareto front and the winner.
fn search(s: &mut String, r: &Report) {
    let Some(search) = &r.search else {
        return;
    };
    let budget = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    let _ = write!(
        s,
        "<section id=\"search\"><h2>Student search</h2><p>Budget: {} bytes, {} µs per row. Chosen: <b>{}</b>: {}. ◆ marks the Pareto front of validation fidelity against latency.</p><table><tr><th>hidden</th><th>T</th><th>soft weight</th><th>bytes</th><th>latency µs</th><th>within budget</th><th>steps</th><th>validation fidelity</th><th>validation accuracy</th></tr>",
        budget(search.max_bytes.map(|b| b.to_string())),
        budget(search.max_latency_us.map(|l| format!("{l}"))),
        escape(&format!("{:?}", search.candidates[search.winner].hidden)),
        escape(&search.reason)
    );
    for (i, c) in search.candidates.iter().enumerate() {
        let opt = |v: Option<f64>| v.map(|x| num(x, 4)).unwrap_or_else(|| "–".into());
        let mark = if i == search.winner {
            " class=\"picked\""
        } else {
            ""
        };
        let _ = write!(
            s,
            "<tr{mark}><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&format!("{:?}", c.hidden)),
            if search.pareto.contains(&i) {
                " ◆"
            } else {
                ""
            },
            c.temperature,
            c.soft_weight,
            c.bytes,
            num(c.latency_us, 2),
            if c.within_budget { "yes" } else { "no" },
            c.steps,
            opt(c.validation_fidelity),
            opt(c.validation_accuracy)
        );
    }
    s.push_str("</table></section>");
}

fn deduplicated(s: &mut String, r: &Report) {
    let Some(d) = &r.deduplicated_test else {
        return;
    };
    let _ = write!(
        s,
        "<section id=\"deduplicated\"><h2>Test rows that repeat a training row</h2><p>{} of the test rows repeat a training row exactly; a model can answer those from memory. Scores on the other {} rows:</p><table><tr><th>model</th><th>accuracy (all rows)</th><th>accuracy (de-duplicated)</th><th>macro-F1 (de-duplicated)</th><th>log loss (de-duplicated)</th></tr>",
        d.repeated_rows, d.rows
    );
    let full = |name: &str| {
        r.models()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, m)| num(m.accuracy, 4))
            .unwrap_or_default()
    };
    let rows = [
        ("teacher", d.teacher.as_ref()),
        ("student", Some(&d.student)),
        ("scratch", d.scratch.as_ref()),
    ];
    for (name, scores) in rows {
        if let Some(m) = scores {
            let _ = write!(
                s,
                "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                full(name),
                num(m.accuracy, 4),
                num(m.macro_f1, 4),
                num(m.log_loss, 4)
            );
        }
    }
    s.push_str("</table></section>");
}

fn cross_validation(s: &mut String, r: &Report) {
    let Some(cv) = &r.cross_validation else {
        return;
    };
    let _ = write!(
        s,
        "<section id=\"cross-validation\"><h2>{}-fold stratified cross-validation</h2><table><tr><th>fold</th><th>train rows</th><th>test rows</th><th>teacher accuracy</th><th>student accuracy</th><th>scratch accuracy</th><th>student fidelity</th><th>student log loss</th></tr>",
        cv.folds.len()
    );
    for f in &cv.folds {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.fold,
            f.train_rows,
            f.test_rows,
            num(f.teacher.accuracy, 4),
            num(f.student.accuracy, 4),
            num(f.scratch.accuracy, 4),
            num(f.student.fidelity, 4),
            num(f.student.log_loss, 4)
        );
    }
    let ms = |m: crate::MeanStd| format!("{} ± {}", num(m.mean, 4), num(m.std, 4));
    let _ = write!(
        s,
        "<tr><td><b>mean ± std</b></td><td></td><td></td><td>{}</td><td id=\"cv-student-accuracy\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr></table><p class=\"note\">Every fold trained the student {}. Teacher probabilities are {}out of fold; per-row probabilities are in <code>{}</code>.</p></section>",
        ms(cv.teacher.accuracy),
        ms(cv.student.accuracy),
        ms(cv.scratch.accuracy),
        ms(cv.student.fidelity),
        ms(cv.student.log_loss),
        cv.student_params
            .as_ref()
            .map_or_else(|| "of the recipe".into(), |p| escape(&p.to_string())),
        if cv.teacher_out_of_fold { "" } else { "not " },
        escape(&cv.probabilities_file)
    );
}

/// Membership inference, attribute inference and the extraction curve, when measured.
fn privacy(s: &mut String, r: &Report) {
    if r.membership.is_none() && r.attribute_inference.is_empty() && r.extraction.is_none() {
        return;
    }
    s.push_str("<section id=\"privacy\"><h2>Privacy and security</h2>");
    if let Some(p) = &r.privacy {
        let _ = write!(s, "<p>{}</p>", escape(&p.sentence()));
    }
    if let Some(m) = &r.membership {
        s.push_str("<h3>Membership inference</h3><table><tr><th>model</th><th>attack</th><th>AUC</th><th>TPR at 0.1% FPR</th><th>TPR at 1% FPR</th><th>advantage</th></tr>");
        for a in &m.attacks {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&a.model),
                escape(&a.attack),
                num(a.auc, 3),
                num(a.tpr_at_0_1_pct_fpr, 4),
                num(a.tpr_at_1_pct_fpr, 4),
                num(a.advantage, 3)
            );
        }
        let _ = write!(s, "</table><p class=\"note\">{}</p>", escape(&m.note));
    }
    if !r.attribute_inference.is_empty() {
        s.push_str("<h3>Attribute inference</h3><table><tr><th>column</th><th>majority class</th><th>without answers</th><th>with answers</th><th>gain</th><th>McNemar p</th></tr>");
        for a in &r.attribute_inference {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:+.2} pp</td><td>{}</td></tr>",
                escape(&a.column),
                num(a.majority, 3),
                num(a.without_outputs, 3),
                num(a.with_outputs, 3),
                100.0 * a.gain(),
                num(a.p_value, 3)
            );
        }
        s.push_str("</table>");
    }
    if let Some(e) = &r.extraction {
        s.push_str("<h3>Extraction</h3><table><tr><th>attacker</th><th>queries</th><th>clone fidelity</th></tr>");
        for p in &e.points {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&p.strategy),
                p.queries,
                num(p.fidelity, 3)
            );
        }
        let _ = write!(s, "</table><p class=\"note\">{}</p>", escape(&e.note));
    }
    if r.evasion.is_none() {
        s.push_str("<p class=\"note\">Evasion is measured after the run: <code>distillery audit</code> adds it here and to the model card.</p>");
    }
    s.push_str("</section>");
}

/// The evasion audit that `distillery audit RUN` added: the robust-accuracy curve, then the
/// numbers behind it.
fn evasion(s: &mut String, r: &Report) {
    let Some(a) = &r.evasion else {
        return;
    };
    // Each line starts at ε = 0 with the clean accuracy.
    let line = |clean: f64, at: fn(&crate::evasion::EvasionPoint) -> Option<f64>| {
        std::iter::once((0.0, clean))
            .chain(a.curve.iter().filter_map(|p| at(p).map(|v| (p.epsilon, v))))
            .collect::<Vec<_>>()
    };
    let mut series = vec![
        Series {
            name: "student, numbers",
            colour: PALETTE[1],
            points: line(a.clean_accuracy, |p| Some(p.robust_accuracy_numeric)),
        },
        Series {
            name: "student, + category",
            colour: PALETTE[2],
            points: line(a.clean_accuracy, |p| Some(p.robust_accuracy)),
        },
    ];
    if let Some(teacher) = a.teacher_clean_accuracy {
        series.push(Series {
            name: "teacher, same rows",
            colour: PALETTE[0],
            points: line(teacher, |p| p.teacher_accuracy),
        });
    }
    let max_epsilon = a.curve.iter().map(|p| p.epsilon).fold(0.0, f64::max);
    let _ = write!(
        s,
        "<section id=\"evasion\"><h2>Evasion audit</h2><p>PGD ({} norm, {} steps) on the numeric columns in standard deviations, inside each column's observed range, then the most damaging change of one categorical column; {} rows of <code>{}</code>. Clean accuracy <span id=\"evasion-clean\">{}</span>{}.</p><div class=\"charts\">{}</div><table><tr><th>ε</th><th>robust accuracy</th><th>numbers only</th><th>flipped</th><th>teacher on the same rows</th><th>transfer to the teacher</th><th>most attacked</th></tr>",
        escape(&a.norm),
        a.steps,
        a.rows,
        escape(&a.data),
        num(a.clean_accuracy, 4),
        a.teacher_clean_accuracy
            .map_or_else(String::new, |t| format!(" (teacher {})", num(t, 4))),
        svg::robustness(&series, max_epsilon)
    );
    for p in &a.curve {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            p.epsilon,
            num(p.robust_accuracy, 4),
            num(p.robust_accuracy_numeric, 4),
            num(p.flipped, 3),
            opt_num(p.teacher_accuracy, 4),
            opt_num(p.transfer_rate, 3),
            escape(&p.most_attacked_line())
        );
    }
    let immutable = if a.immutable.is_empty() {
        String::new()
    } else {
        format!(" Columns held fixed: {}.", escape(&a.immutable.join(", ")))
    };
    let _ = write!(
        s,
        "</table><p class=\"note\">Flipped: share of the rows the student got right whose answer the attack changed. Transfer: of those, the share whose teacher answer changed too (the attacker never queried the teacher).{immutable}</p></section>"
    );
}

fn data(s: &mut String, r: &Report) {
    let d = &r.dataset;
    let _ = write!(
        s,
        "<section id=\"data\"><h2>Data</h2><table><tr><td>training file</td><td>{}</td></tr><tr><td>test file</td><td>{}</td></tr><tr><td>fingerprint (BLAKE3)</td><td><code>{}</code></td></tr><tr><td>classes</td><td>{}</td></tr><tr><td>features / encoded width</td><td>{} / {}</td></tr><tr><td>rows: train / validation / test / augmented</td><td>{} / {} / {} / {}</td></tr><tr><td>recipe hash</td><td><code>{}</code></td></tr></table></section>",
        escape(&d.train_file),
        escape(
            d.test_file
                .as_deref()
                .unwrap_or("held out from the training file")
        ),
        escape(&d.fingerprint),
        escape(&d.classes.join(", ")),
        d.features,
        d.encoded_width,
        d.train_rows,
        d.validation_rows,
        d.test_rows,
        d.augmented_rows,
        escape(&r.recipe_hash)
    );
    checks(s, r);
}

/// The data checks' findings (from `check.json`), most severe first.
fn checks(s: &mut String, r: &Report) {
    let Some(findings) = r.checks.as_ref().and_then(|c| c["findings"].as_array()) else {
        return;
    };
    s.push_str("<section id=\"checks\"><h2>Data checks</h2>");
    if findings.is_empty() {
        s.push_str("<p>No findings.</p>");
    } else {
        s.push_str(
            "<table><tr><th>severity</th><th>finding</th><th>key</th><th>acknowledged</th></tr>",
        );
        for f in findings {
            let severity = f["severity"].as_str().unwrap_or("");
            let class = if severity == "block" {
                " class=\"fail\""
            } else {
                ""
            };
            let _ = write!(
                s,
                "<tr><td{class}>{}</td><td style=\"text-align:left\">{}</td><td><code>{}</code></td><td>{}</td></tr>",
                escape(severity),
                escape(f["message"].as_str().unwrap_or("")),
                escape(f["key"].as_str().unwrap_or("")),
                if f["acknowledged"] == true { "yes" } else { "" }
            );
        }
        s.push_str("</table>");
    }
    s.push_str("</section>");
}
