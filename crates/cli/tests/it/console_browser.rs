//! Issue #18's acceptance walk in a real browser: `tests/browser/console_flow.py` drives
//! Debian's Chromium through Playwright (no browser download) over a server whose monitor
//! has re-distilled a version that waits for approval; axe-core checks every page. Then the
//! CLI must find every action in the registry and its audit trail, under the operator's
//! name and reasons.
//!
//! Needs Playwright for Python in `DISTILLERY_PYTHON`, Chromium, and axe-core's
//! `axe.min.js` (`DISTILLERY_AXE`); `.ci/run` installs all three and sets
//! `DISTILLERY_REQUIRE_PLAYWRIGHT=1`, so CI cannot skip this. Elsewhere it skips, saying so.

use std::path::PathBuf;
use std::process::Command;

use crate::traffic::{adult_batch, adult_batch_moved, serve_watched};
use crate::util::{eventually, json, python, repo, setup, stderr};

/// What the walk needs, or `None` (skipped, loudly) unless CI requires it.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let axe = std::env::var_os("DISTILLERY_AXE")
        .map(PathBuf::from)
        .filter(|p| p.exists());
    let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists());
    let playwright = Command::new(python())
        .args(["-c", "import playwright.sync_api"])
        .output()
        .is_ok_and(|o| o.status.success());
    let missing: Vec<&str> = [
        (axe.is_none(), "axe-core (DISTILLERY_AXE=…/axe.min.js)"),
        (chromium.is_none(), "Chromium"),
        (!playwright, "Playwright for Python in DISTILLERY_PYTHON"),
    ]
    .iter()
    .filter(|(m, _)| *m)
    .map(|(_, w)| *w)
    .collect();
    if missing.is_empty() {
        return Some((axe?, chromium?));
    }
    assert!(
        std::env::var_os("DISTILLERY_REQUIRE_PLAYWRIGHT").is_none(),
        "DISTILLERY_REQUIRE_PLAYWRIGHT is set but these are missing: {}",
        missing.join(", ")
    );
    eprintln!(
        "SKIPPED the console's browser walk: missing {}",
        missing.join(", ")
    );
    None
}

#[test]
fn an_operator_walks_the_console_in_a_real_browser() {
    let Some((axe, chromium)) = tools() else {
        return;
    };
    let s = setup();
    s.promoted_student();
    // A second run (another seed): version 2, to compare and to canary.
    let recipe = std::fs::read_to_string(s.path("r.toml")).unwrap();
    let other = s.write(
        "r2.toml",
        &format!(
            "name = \"r\"\n{}",
            recipe.replacen("seed = 11", "seed = 12", 1)
        ),
    );
    let run = s.cmd(&["run", other.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));

    // The monitor catches a drift and re-distils version 3, which waits for a person.
    let server = serve_watched(
        &s,
        "[log]\ndir = \"log\"\n\n[monitor]\nwindow = 200\nteacher = TEACHER\nteacher_fraction = 1.0\nmin_fidelity = 0.85\nconsecutive = 1\n\n[[monitor.actions]]\nkind = \"redistill\"\nrecipe = \"r.toml\"\nrequire_approval = true\nrows = 1000\n",
        &["--runs", "runs"],
    );
    let b = server.base.clone();
    for from in (0..200).step_by(100) {
        let (status, r) = crate::serve::post(
            &format!("{b}/v2/models/r/infer"),
            &adult_batch(from, 100, 0.0),
        );
        assert_eq!(status, 200, "{r}");
    }
    for from in (200..1000).step_by(100) {
        let body = adult_batch_moved(from, 100, "capital-gain", 5000.0);
        let (status, r) = crate::serve::post(&format!("{b}/v2/models/r/infer"), &body);
        assert_eq!(status, 200, "{r}");
    }
    let report: serde_json::Value = eventually("the re-distillation", || {
        let dir = std::fs::read_dir(s.path("log")).ok()?;
        dir.filter_map(Result::ok)
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with("redistill-window-")
            })
            .find_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
    });
    assert!(
        report["deployed"]
            .as_str()
            .unwrap()
            .contains("awaiting approval"),
        "{report}"
    );
    assert_eq!(report["new_version"], 3, "{report}");

    let traffic = s.write("request.json", &adult_batch(0, 20, 0.0));
    let mut walk = Command::new(python());
    // `DISTILLERY_CONSOLE_SCREENSHOTS=docs` saves each page (the README's pictures).
    if let Some(dir) = std::env::var_os("DISTILLERY_CONSOLE_SCREENSHOTS") {
        walk.arg(repo().join("tests/browser/console_flow.py"))
            .arg("--screenshots")
            .arg(dir);
    } else {
        walk.arg(repo().join("tests/browser/console_flow.py"));
    }
    let out = walk
        .args(["--base", &b, "--token", "s3cret"])
        .arg("--axe")
        .arg(&axe)
        .arg("--chromium")
        .arg(&chromium)
        .arg("--traffic")
        .arg(&traffic)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the browser walk failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        stderr(&out)
    );
    let seen: serde_json::Value = serde_json::from_slice(
        out.stdout
            .split(|&c| c == b'\n')
            .rev()
            .find(|l| !l.is_empty())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(seen["steps"].as_array().unwrap().len(), 10, "{seen}");
    let checked = seen["axe"].as_object().unwrap();
    eprintln!("axe-core: {}", seen["axe"]);
    assert!(checked.len() >= 10, "axe ran on every page: {seen}");
    server.stop();

    // Everything the operator did is in the registry, under their name and reasons.
    let show = s.cmd(&["registry", "show", "r@production", "--json"]);
    assert_eq!(
        json(&show)["lineage"]["version"]["version"],
        2,
        "promoted through the console"
    );
    let audit = json(&s.cmd(&["registry", "audit", "r", "--json"]));
    let by_ana: Vec<&serde_json::Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "Ana")
        .collect();
    let said = |why: &str| by_ana.iter().any(|e| e["why"] == why);
    for why in [
        "first look at version 2",
        "version 2 looks fine at 10%",
        "version 2 held up under half the traffic",
        "fidelity recovered on the drifted traffic",
        "rolling back to compare again tomorrow",
    ] {
        assert!(said(why), "'{why}' in the audit trail: {audit}");
    }
    let three = json(&s.cmd(&["registry", "show", "r/3", "--json"]));
    assert!(
        three["tags"].to_string().contains("approved by Ana"),
        "the approval is recorded on the version: {}",
        three["tags"]
    );
    let canary = s.cmd(&["registry", "show", "r@canary", "--json"]);
    assert_ne!(
        canary.status.code(),
        Some(0),
        "rolled back: no canary is left"
    );
}
