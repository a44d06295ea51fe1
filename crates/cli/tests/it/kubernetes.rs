//! The Kubernetes manifests in `deploy/kubernetes/` validate offline (built-in kinds with
//! `kubernetes-validate`, KServe kinds against the CRDs in `../shared/specs/kserve`), and
//! every `distillery serve` command line in them is one the binary accepts.

use std::process::Command;

use crate::util::{setup, stderr};

#[test]
fn manifests_validate_and_their_serve_flags_exist() {
    let required = std::env::var_os("DISTILLERY_REQUIRE_SPECS").is_some_and(|v| v == "1");
    let specs = crate::util::repo().join("../shared/specs/kserve");
    let skip = |why: String| {
        assert!(!required, "DISTILLERY_REQUIRE_SPECS=1 but {why}");
        eprintln!("skipped the Kubernetes manifest validation: {why}");
    };
    if !specs
        .join("serving.kserve.io_inferenceservices.yaml")
        .exists()
    {
        return skip(format!("{} is absent", specs.display()));
    }
    let python = crate::util::python();
    let importable = Command::new(&python)
        .args(["-c", "import kubernetes_validate, jsonschema, yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable {
        return skip(format!("{python} cannot import kubernetes_validate"));
    }
    let out = Command::new(&python)
        .arg(crate::util::repo().join("tests/clients/validate_manifests.py"))
        .arg(crate::util::repo().join("deploy/kubernetes"))
        .arg(&specs)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}{}", stderr(&out));
    for kind in [
        "Deployment/distillery",
        "Service/distillery",
        "HorizontalPodAutoscaler/distillery",
        "PodDisruptionBudget/distillery",
        "ServingRuntime/distillery",
        "InferenceService/adult",
    ] {
        assert!(report.contains(&format!(": {kind} (")), "{kind}: {report}");
    }
    let commands: Vec<Vec<String>> = report
        .lines()
        .filter_map(|l| l.strip_prefix("args "))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(commands.len(), 2, "{report}");
    // clap refuses an unknown flag before it gets to --help: exit 0 means every flag exists.
    let s = setup();
    for args in &commands {
        let mut line: Vec<&str> = args.iter().map(String::as_str).collect();
        line.push("--help");
        let out = s.cmd(&line);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    }
    let mut bad: Vec<&str> = commands[0].iter().map(String::as_str).collect();
    bad.extend(["--no-such-flag", "--help"]);
    assert_eq!(s.cmd(&bad).status.code(), Some(2), "the check can fail");
}
