//! `report.html` opened in a real browser: headless Chromium renders it to a screenshot
//! and dumps the DOM, which must hold the run's key numbers. Needs Chromium (Debian's
//! `chromium` package; `.ci/run` installs it and sets `DISTILLERY_REQUIRE_BROWSER=1`, so
//! CI can never skip this). Elsewhere, without Chromium, the test says so loudly and passes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{adult_recipe, data, json, onnx_line, setup, stderr};

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DISTILLERY_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Chromium for `test`; `None` (the test skips, saying so loudly) where it is not
/// installed, unless CI requires it (`DISTILLERY_REQUIRE_BROWSER`).
fn browser(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var_os("DISTILLERY_REQUIRE_BROWSER").is_none(),
            "DISTILLERY_REQUIRE_BROWSER is set but Chromium is not installed (apt-get install chromium)"
        );
        eprintln!(
            "SKIPPED {test}: no Chromium here; install Debian's `chromium` or set DISTILLERY_CHROMIUM"
        );
    }
    found
}

/// Runs headless Chromium on `url` with `args`, killing it after two minutes.
fn headless(chrome: &Path, profile: &Path, args: &[&str], url: &str) -> Output {
    let mut child = Command::new(chrome)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("chromium did not finish within two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// Opens `url` in headless Chromium twice: first a `width`×`height` screenshot, which must
/// be a PNG of that size and larger than `min_bytes` (a blank page compresses to a few
/// kB; tables and charts do not), then the rendered DOM, which is returned.
fn render(
    chrome: &Path,
    dir: &Path,
    url: &str,
    (width, height): (u32, u32),
    min_bytes: usize,
) -> String {
    let profile = dir.join("chromium-profile");
    let shot = dir.join("page.png");
    let out = headless(
        chrome,
        &profile,
        &[
            &format!("--window-size={width},{height}"),
            &format!("--screenshot={}", shot.display()),
        ],
        url,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let png = std::fs::read(&shot).expect("a screenshot was written");
    assert_eq!(&png[1..4], b"PNG");
    let size = (
        u32::from_be_bytes(png[16..20].try_into().unwrap()),
        u32::from_be_bytes(png[20..24].try_into().unwrap()),
    );
    assert_eq!(size, (width, height));
    assert!(
        png.len() > min_bytes,
        "screenshot is only {} bytes",
        png.len()
    );
    let out = headless(chrome, &profile, &["--dump-dom"], url);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let Some(chrome) = browser("the_html_report_renders_in_headless_chromium") else {
        return;
    };
    let s = setup();
    let extra = "\n[evaluate]\nslices = [\"sex\", \"race\", \"age:quantile(4)\"]\n\n[gates]\nmin_fidelity = 0.5\n";
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), extra),
    );
    let out = s.cmd(&["run", recipe.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report = json(&out);
    let page = format!(
        "file://{}",
        s.runs()[0]
            .join("report.html")
            .canonicalize()
            .unwrap()
            .display()
    );
    let dom = render(&chrome, s.dir.path(), &page, (1280, 2000), 40_000);
    let acc = format!("{:.4}", report["student"]["accuracy"].as_f64().unwrap());
    let gap = format!("{:.4}", report["slices"]["gap"]["gap"].as_f64().unwrap());
    for needle in [
        format!("id=\"student-accuracy\">{acc}<"),
        format!("id=\"slice-gap\">{gap}</b>"),
        "ALL GATES PASSED".to_string(),
        "race = White".to_string(),
        "<svg".to_string(),
    ] {
        assert!(dom.contains(&needle), "{needle} not in the rendered DOM");
    }
}

#[test]
fn the_drift_page_renders_in_headless_chromium() {
    let Some(chrome) = browser("the_drift_page_renders_in_headless_chromium") else {
        return;
    };
    let s = setup();
    let text = std::fs::read_to_string(data("drift/car_loan_sample.csv")).unwrap();
    let header = text.lines().next().unwrap();
    let pick = |want: &dyn Fn(&str) -> bool| -> String {
        std::iter::once(header)
            .chain(text.lines().skip(1).filter(|l| want(l)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let reference = s.write("ref.csv", &pick(&|l| l.ends_with(",reference")));
    let current = s.write(
        "late.csv",
        &pick(&|l| {
            l.ends_with(",analysis")
                && l.split(',').next().unwrap().parse::<u32>().unwrap() >= 75_000
        }),
    );
    let page = s.path("drift.html");
    let out = s.cmd(&[
        "drift",
        "--reference",
        reference.to_str().unwrap(),
        "--current",
        current.to_str().unwrap(),
        "--ignore",
        "id,repaid,timestamp,y_pred_proba,y_pred,period",
        "--html",
        page.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let page = format!("file://{}", page.canonicalize().unwrap().display());
    let dom = render(&chrome, s.dir.path(), &page, (1280, 1600), 20_000);
    assert!(
        dom.contains("dataset drift: 4 of 7 columns drifted"),
        "verdict not rendered"
    );
    assert_eq!(dom.matches("<svg").count(), 7, "one plot per column");
    assert!(dom.matches("<rect").count() > 50, "the plots have bars");
    assert!(dom.contains("id=\"col-car-value\""));
}

#[test]
fn the_live_monitor_page_renders_in_headless_chromium() {
    let Some(chrome) = browser("the_live_monitor_page_renders_in_headless_chromium") else {
        return;
    };
    let s = setup();
    s.promoted_student();
    let server = crate::traffic::serve_watched(
        &s,
        "[monitor]\nwindow = 100\nteacher = TEACHER\nteacher_fraction = 1.0\n",
        &["--no-log"],
    );
    let b = server.base.clone();
    for from in (0..300).step_by(100) {
        let (status, r) = crate::serve::post(
            &format!("{b}/v2/models/r/infer"),
            &crate::traffic::adult_batch(from, 100, 0.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    crate::util::eventually("three windows", || {
        let (_, text) = crate::serve::get(&format!("{b}/monitor"));
        let state: serde_json::Value = serde_json::from_str(&text).unwrap();
        (state["models"]["r/1"]["windows"] == 3).then_some(())
    });
    let url = format!("{b}/monitor/page");
    let dom = render(&chrome, s.dir.path(), &url, (1280, 1200), 10_000);
    assert!(dom.contains("<h2 id=\"v-r-1\">r/1</h2>"), "{dom}");
    assert!(dom.matches("<polyline").count() >= 2, "signal lines: {dom}");
    assert!(dom.contains("fidelity"), "{dom}");
}
