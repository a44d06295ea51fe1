//! Streaming detector speed: nanoseconds per update over 1,000,000 values (uniform, the
//! mean moving by 0.5 every 250,000 values: the same 64-bit LCG stream as
//! `bench/stream/river_adwin.py`). Prints one JSON line per detector.

use std::hint::black_box;
use std::time::Instant;

use distillery_monitor::stream::{Adwin, Detector, Kswin, PageHinkley};

const N: usize = 1_000_000;

fn stream() -> Vec<f64> {
    let mut s: u64 = 1;
    (0..N)
        .map(|i| {
            s = s
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 53) as f64 + 0.5 * ((i / 250_000) % 2) as f64
        })
        .collect()
}

fn time(name: &str, make: impl Fn() -> Box<dyn Detector>, values: &[f64]) {
    let mut best = f64::INFINITY;
    let mut fired = 0;
    for _ in 0..3 {
        let mut d = make();
        let start = Instant::now();
        fired = values
            .iter()
            .filter(|&&x| d.update(black_box(x)) == distillery_monitor::stream::Signal::Drift)
            .count();
        best = best.min(start.elapsed().as_secs_f64());
    }
    // Per update of the values this detector actually saw (KSWIN sees the first 100,000:
    // dividing its time by N once overstated its speed tenfold).
    println!(
        "{{\"tool\": \"distillery\", \"detector\": \"{name}\", \"updates\": {}, \"ns_per_update\": {:.1}, \"detections\": {fired}}}",
        values.len(),
        best / values.len() as f64 * 1e9
    );
}

fn main() {
    let values = stream();
    time("adwin", || Box::new(Adwin::default()), &values);
    time("page-hinkley", || Box::new(PageHinkley::default()), &values);
    // KSWIN runs on a prefix (default 100,000 values; the first argument changes it).
    let kswin = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(100_000)
        .min(N);
    time("kswin", || Box::new(Kswin::new(42)), &values[..kswin]);
}
