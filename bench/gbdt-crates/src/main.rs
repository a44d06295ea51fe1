//! Trains perpetual and gbdt-rs on each shared classification set (same 80/20 split, same
//! features: numbers as they are, categories as codes, missing as NaN) and prints test
//! accuracy, log-loss, training seconds and trees, one line per set and crate.

use std::path::Path;
use std::time::Instant;

use distillery_data::{Column, ReadOptions, Schema, SchemaOptions, Table};
use gbdt::config::Config;
use gbdt::decision_tree::{Data, DataVec};
use gbdt::gradient_boost::GBDT;
use perpetual::objective::Objective;
use perpetual::{Matrix, PerpetualBooster};

const SETS: [(&str, &str); 7] = [
    ("phishing", "is_phishing"),
    ("credit_data", "Status"),
    ("mlc_churn", "churn"),
    ("magic", "class"),
    ("letter", "lettr"),
    ("adult", "income-per-year"),
    ("census_kdd", "income_gt_50k"),
];

struct Split {
    train_x: Vec<Vec<f64>>,
    train_y: Vec<usize>,
    test_x: Vec<Vec<f64>>,
    test_y: Vec<usize>,
    classes: usize,
}

fn load(dir: &Path, set: &str, target: &str) -> Split {
    let mut path = dir.join(set).join(format!("{set}.csv"));
    if !path.exists() {
        path = dir.join(set).join(format!("{set}.csv.gz"));
    }
    let mut options = ReadOptions::default();
    options.keep_text.insert(target.to_string());
    let table = Table::read(&path, &options).expect("read");
    let schema = Schema::infer(
        &table,
        &SchemaOptions { target: target.into(), ..Default::default() },
    )
    .expect("schema");
    let features: Vec<&Column> = schema
        .features()
        .iter()
        .map(|c| table.column(&c.name).expect("column"))
        .collect();
    let Column::Text { levels, codes } = table.column(target).expect("target") else {
        panic!("target is not text")
    };
    let n = table.n_rows();
    // A fixed LCG shuffle: the same split for both crates.
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = 42u64;
    for i in (1..n).rev() {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        order.swap(i, (state >> 33) as usize % (i + 1));
    }
    let row = |r: usize| -> Vec<f64> {
        features
            .iter()
            .map(|c| match c {
                Column::Numeric(v) => v[r],
                Column::Text { codes, .. } if codes[r] == u32::MAX => f64::NAN,
                Column::Text { codes, .. } => f64::from(codes[r]),
            })
            .collect()
    };
    let cut = n * 4 / 5;
    let (tr, te) = order.split_at(cut);
    Split {
        train_x: tr.iter().map(|&r| row(r)).collect(),
        train_y: tr.iter().map(|&r| codes[r] as usize).collect(),
        test_x: te.iter().map(|&r| row(r)).collect(),
        test_y: te.iter().map(|&r| codes[r] as usize).collect(),
        classes: levels.len(),
    }
}

fn score(p: &[f64], y: &[usize], k: usize) -> (f64, f64) {
    let mut right = 0;
    let mut loss = 0.0;
    for (row, &t) in p.chunks_exact(k).zip(y) {
        let best = (0..k).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap_or(0);
        right += usize::from(best == t);
        loss -= row[t].clamp(1e-15, 1.0).ln();
    }
    (right as f64 / y.len() as f64, loss / y.len() as f64)
}

fn column_major(x: &[Vec<f64>]) -> Vec<f64> {
    let cols = x[0].len();
    (0..cols).flat_map(|j| x.iter().map(move |r| r[j])).collect()
}

fn perpetual(s: &Split, budget: f32) -> (Vec<f64>, usize) {
    let cols = s.train_x[0].len();
    let train = column_major(&s.train_x);
    let test = column_major(&s.test_x);
    let m = Matrix::new(&train, s.train_x.len(), cols);
    let t = Matrix::new(&test, s.test_x.len(), cols);
    let heads = if s.classes == 2 { 1 } else { s.classes };
    let mut logits = Vec::new();
    let mut trees = 0;
    for c in 0..heads {
        let positive = if s.classes == 2 { 1 } else { c };
        let y: Vec<f64> = s.train_y.iter().map(|&v| f64::from(u8::from(v == positive))).collect();
        let mut b = PerpetualBooster::default()
            .set_objective(Objective::LogLoss)
            .set_budget(budget)
            .set_seed(0);
        b.fit(&m, &y, None, None).expect("fit");
        trees += b.get_prediction_trees().len();
        logits.push(b.predict(&t, true));
    }
    (combine(&logits, s.classes, s.test_x.len()), trees)
}

fn forust(s: &Split) -> (Vec<f64>, usize) {
    use forust_ml::objective::ObjectiveType;
    let cols = s.train_x[0].len();
    let train = column_major(&s.train_x);
    let test = column_major(&s.test_x);
    let m = forust_ml::Matrix::new(&train, s.train_x.len(), cols);
    let t = forust_ml::Matrix::new(&test, s.test_x.len(), cols);
    let heads = if s.classes == 2 { 1 } else { s.classes };
    let w = vec![1.0; s.train_x.len()];
    let logits: Vec<Vec<f64>> = (0..heads)
        .map(|c| {
            let positive = if s.classes == 2 { 1 } else { c };
            let y: Vec<f64> = s.train_y.iter().map(|&v| f64::from(u8::from(v == positive))).collect();
            let mut b = forust_ml::GradientBooster::default()
                .set_objective_type(ObjectiveType::LogLoss)
                .set_iterations(300)
                .set_learning_rate(0.1)
                .set_max_depth(6)
                .set_seed(0);
            b.fit(&m, &y, &w, None).expect("fit");
            b.predict(&t, true)
        })
        .collect();
    (combine(&logits, s.classes, s.test_x.len()), 300 * heads)
}

fn combine(logits: &[Vec<f64>], classes: usize, n: usize) -> Vec<f64> {
    let mut p = Vec::with_capacity(n * classes);
    for r in 0..n {
        if classes == 2 {
            let q = 1.0 / (1.0 + (-logits[0][r]).exp());
            p.extend([1.0 - q, q]);
        } else {
            let m = logits.iter().map(|l| l[r]).fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = logits.iter().map(|l| (l[r] - m).exp()).collect();
            let z: f64 = e.iter().sum();
            p.extend(e.iter().map(|v| v / z));
        }
    }
    p
}

fn gbdt_rs(s: &Split) -> Option<(Vec<f64>, usize)> {
    if s.classes != 2 {
        return None; // gbdt-rs trains binary log-loss only.
    }
    let cols = s.train_x[0].len();
    let mut cfg = Config::new();
    cfg.set_feature_size(cols);
    cfg.set_max_depth(6);
    cfg.set_iterations(200);
    cfg.set_shrinkage(0.1);
    cfg.set_loss("LogLikelyhood");
    cfg.set_min_leaf_size(20);
    cfg.set_training_optimization_level(2);
    // gbdt-rs has no missing-value handling: NaN becomes a sentinel below every value.
    let clean = |r: &[f64]| r.iter().map(|&v| if v.is_nan() { -1e9 } else { v } as f32).collect::<Vec<f32>>();
    let mut train: DataVec = s
        .train_x
        .iter()
        .zip(&s.train_y)
        .map(|(r, &y)| Data::new_training_data(clean(r), 1.0, if y == 1 { 1.0 } else { -1.0 }, None))
        .collect();
    let mut g = GBDT::new(&cfg);
    g.fit(&mut train);
    let test: DataVec = s.test_x.iter().map(|r| Data::new_test_data(clean(r), None)).collect();
    let q = g.predict(&test);
    Some((q.iter().flat_map(|&v| [1.0 - f64::from(v), f64::from(v)]).collect(), 200))
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: gbdt-crates <shared-data-dir> [sets...]");
    let only: Vec<String> = std::env::args().skip(2).collect();
    println!("{:<12} {:<16} {:>8} {:>8} {:>8} {:>6}", "set", "crate", "accuracy", "logloss", "seconds", "trees");
    for (set, target) in SETS {
        if !only.is_empty() && !only.iter().any(|s| s == set) {
            continue;
        }
        let s = load(Path::new(&dir), set, target);
        let runs: Vec<(&str, Box<dyn Fn() -> Option<(Vec<f64>, usize)>>)> = vec![
            ("perpetual b=0.5", Box::new(|| Some(perpetual(&s, 0.5)))),
            ("perpetual b=1.0", Box::new(|| Some(perpetual(&s, 1.0)))),
            ("forust 300x6", Box::new(|| Some(forust(&s)))),
            ("gbdt-rs 200x6", Box::new(|| gbdt_rs(&s))),
        ];
        for (name, run) in runs {
            let start = Instant::now();
            let Some((p, trees)) = run() else {
                println!("{set:<12} {name:<16} {:>8}", "n/a");
                continue;
            };
            let secs = start.elapsed().as_secs_f64();
            let (acc, ll) = score(&p, &s.test_y, s.classes);
            println!("{set:<12} {name:<16} {acc:8.4} {ll:8.4} {secs:8.1} {trees:6}");
        }
    }
}
