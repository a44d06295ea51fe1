//! Issue #16, evasion: `distillery audit` attacks a run's student on the Adult sample and
//! transfers the adversarial rows to the demo teacher.

use crate::util::{data, demo_teacher, json, setup, stderr};

#[test]
fn audit_attacks_the_student_and_transfers_to_the_teacher() {
    let s = setup();
    s.trained_student();
    let run = s.runs()[0].clone();
    let sample = data("adult_sample.csv");
    let teacher = demo_teacher();
    let args = |extra: &[&str]| {
        let mut a = vec![
            "audit",
            run.to_str().unwrap(),
            "--data",
            sample.to_str().unwrap(),
            "--teacher",
            teacher.to_str().unwrap(),
            "--json",
        ];
        a.extend_from_slice(extra);
        a.iter().map(|v| (*v).to_string()).collect::<Vec<_>>()
    };
    let call = |extra: &[&str]| {
        let a = args(extra);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        s.cmd(&refs)
    };
    let out = call(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let a = json(&out);
    assert_eq!(a["schema"], "distillery-audit/1");
    // The run's own attacks join the evasion audit: membership was measured, extraction
    // was not asked for and is listed as such.
    let models: Vec<&str> = a["membership"]["attacks"]
        .as_array()
        .unwrap_or_else(|| panic!("no membership in {a}"))
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert!(
        models.contains(&"teacher") && models.contains(&"student"),
        "{models:?}"
    );
    let missing = a["not_measured"].to_string();
    assert!(missing.contains("extraction = true"), "{missing}");
    let clean = a["clean_accuracy"].as_f64().unwrap();
    assert!(a["teacher_clean_accuracy"].as_f64().unwrap() > 0.7);
    let curve = a["curve"].as_array().unwrap();
    assert_eq!(curve.len(), 5);
    assert_eq!(curve[0]["epsilon"], 0.05);
    for p in curve {
        let numbers = p["robust_accuracy_numeric"].as_f64().unwrap();
        let robust = p["robust_accuracy"].as_f64().unwrap();
        assert!(
            robust <= numbers + 1e-9,
            "a categorical change only adds: {p}"
        );
        assert!(numbers <= clean + 0.01, "{p}");
        assert!(
            (0.0..=1.0).contains(&p["transfer_rate"].as_f64().unwrap()),
            "{p}"
        );
    }
    let last = &curve[4];
    assert!(
        last["robust_accuracy"].as_f64().unwrap() < clean - 0.05,
        "one standard deviation and a category break the student: {last}"
    );
    assert!(!last["most_attacked"].as_array().unwrap().is_empty());
    // The file lands in the run, and the same seed gives the same curve.
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("audit.json")).unwrap()).unwrap();
    assert_eq!(written["curve"], a["curve"]);
    let card = std::fs::read_to_string(run.join("model_card.md")).unwrap();
    assert_eq!(card.matches("## Evasion audit").count(), 1, "{card}");
    // report.json records it and report.html draws the curve, with the clean point.
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["evasion"]["curve"], a["curve"]);
    let page = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert_eq!(page.matches("<section id=\"evasion\">").count(), 1);
    assert!(page.contains("aria-label=\"robust accuracy against ε\""));
    assert!(page.contains(&format!("<span id=\"evasion-clean\">{clean:.4}</span>")));
    assert!(!page.contains("Evasion is measured after the run"));

    // A registered version is audited from the registry's copy of its student: the same
    // curve, named by its reference, written to the current directory.
    let registered = s.cmd(&[
        "audit",
        "r/1",
        "--data",
        sample.to_str().unwrap(),
        "--teacher",
        teacher.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(registered.status.code(), Some(0), "{}", stderr(&registered));
    let r = json(&registered);
    assert_eq!(r["curve"], a["curve"]);
    assert_eq!(r["model"], "r/1");
    assert_eq!(
        r["membership"], a["membership"],
        "the version's run results come along"
    );
    assert!(s.path("audit.json").exists());

    // An immutable column never leads an attack.
    let held = json(&call(&[
        "--immutable",
        "age",
        "--immutable",
        "relationship",
    ]));
    for p in held["curve"].as_array().unwrap() {
        for f in p["most_attacked"].as_array().unwrap() {
            assert!(f["name"] != "age" && f["name"] != "relationship", "{p}");
        }
    }

    let card = std::fs::read_to_string(run.join("model_card.md")).unwrap();
    assert_eq!(
        card.matches("## Evasion audit").count(),
        1,
        "a rerun replaces the section"
    );
    assert!(card.contains("Immutable: age, relationship."), "{card}");

    // Bad input says what is wrong, with exit 2.
    let bad = call(&["--immutable", "shoe_size"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("shoe_size"), "{}", stderr(&bad));
    let no_data = s.cmd(&["audit", run.to_str().unwrap()]);
    assert_eq!(no_data.status.code(), Some(2));
    assert!(stderr(&no_data).contains("--data"), "{}", stderr(&no_data));
    let not_a_run = s.cmd(&["audit", s.path("nowhere").to_str().unwrap()]);
    assert_eq!(not_a_run.status.code(), Some(2));
    assert!(
        stderr(&not_a_run).contains("not a run directory"),
        "{}",
        stderr(&not_a_run)
    );
}

#[test]
fn adversarial_training_makes_the_student_harder_to_evade() {
    let s = setup();
    let sample = data("adult_sample.csv");
    let base = crate::util::adult_recipe(&sample, &crate::util::onnx_line(), "");
    let plain = s.write("plain.toml", &base);
    let adv = s.write(
        "adv.toml",
        &format!("{base}adversarial = {{ epsilon = 0.5, steps = 3 }}\n"),
    );
    let robust = |recipe: &std::path::Path, out: &str| {
        let (r, dir) = s.run_into(recipe, out);
        let audit = s.cmd(&[
            "audit",
            dir.to_str().unwrap(),
            "--data",
            sample.to_str().unwrap(),
            "--epsilon",
            "0.5",
            "--json",
        ]);
        assert_eq!(audit.status.code(), Some(0), "{}", stderr(&audit));
        let a = json(&audit);
        (
            r["distill"]["adversarial"].clone(),
            a["clean_accuracy"].as_f64().unwrap(),
            a["curve"][0]["robust_accuracy_numeric"].as_f64().unwrap(),
            a["curve"][0]["robust_accuracy"].as_f64().unwrap(),
        )
    };
    let (none, plain_clean, plain_robust, plain_category) = robust(&plain, "p");
    let (recorded, adv_clean, adv_robust, adv_category) = robust(&adv, "a");
    eprintln!(
        "clean {plain_clean} → {adv_clean}; numbers {plain_robust} → {adv_robust}; + category {plain_category} → {adv_category}"
    );
    assert!(
        adv_category > plain_category,
        "training switches categories too, so the student resists a categorical change better: {adv_category} vs {plain_category}"
    );
    assert!(none.is_null());
    assert_eq!(
        recorded["steps"], 3,
        "the report records the setting: {recorded}"
    );
    assert!(
        adv_robust > plain_robust + 0.02,
        "robust accuracy at ε = 0.5: adversarial {adv_robust} vs plain {plain_robust}"
    );
    assert!(
        adv_clean > plain_clean - 0.1,
        "{adv_clean} vs {plain_clean}"
    );

    // Settings that cannot work are refused before training.
    for (extra, says) in [
        ("adversarial = { epsilon = 0.0 }\n", "epsilon > 0"),
        (
            "adversarial = { epsilon = 0.1, immutable = [\"shoe_size\"] }\n",
            "'shoe_size' is not a feature",
        ),
    ] {
        let bad = s.write("bad.toml", &format!("{base}{extra}"));
        let out = s.cmd(&["run", bad.to_str().unwrap(), "--no-register"]);
        assert_eq!(out.status.code(), Some(2), "{extra}");
        assert!(stderr(&out).contains(says), "{extra}: {}", stderr(&out));
    }
}
