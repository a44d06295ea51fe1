//! Issue #6: the registry through the real binary: automatic registration, aliases,
//! rollback, lineage, tampering, concurrent writers and SIGKILL at random moments.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::util::{Setup, adult_recipe, data, json, onnx_line, setup, stderr};

fn run(s: &Setup, extra: &str) -> std::process::Output {
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), extra),
    );
    s.cmd(&["run", recipe.to_str().unwrap(), "--actor", "alice"])
}

fn reg(s: &Setup, args: &[&str]) -> std::process::Output {
    let mut all = vec!["registry"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--actor", "alice"]);
    s.cmd(&all)
}

fn ok(o: &std::process::Output) -> String {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        stderr(o)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn runs_register_promote_roll_back_and_trace_lineage() {
    let s = setup();
    for expected in ["registered r/1", "registered r/2"] {
        let out = ok(&run(&s, ""));
        assert!(out.contains(expected), "{out}");
    }
    let versions = json(&reg(&s, &["ls", "--json"]));
    assert_eq!(versions.as_array().unwrap().len(), 2);
    assert_eq!(versions[0]["actor"], "alice");
    ok(&reg(
        &s,
        &["promote", "r/1", "--to", "production", "--why", "first"],
    ));
    let out = ok(&reg(
        &s,
        &["promote", "r/2", "--to", "production", "--why", "better"],
    ));
    assert!(out.contains("version 1 → 2"), "{out}");
    let out = ok(&reg(&s, &["rollback", "r", "--why", "incident"]));
    assert!(out.contains("from version 2 to 1"), "{out}");
    let shown = json(&reg(&s, &["show", "r@production", "--json"]));
    assert_eq!(shown["lineage"]["version"]["version"], 1);

    let lineage = ok(&s.cmd(&["lineage", "r@production"]));
    for needle in [
        "dataset ",
        "→ teacher onnx:",
        "→ run r-",
        "→ version r/1",
        "promote r@production by alice",
        "rollback r@production by alice at",
    ] {
        assert!(lineage.contains(needle), "{needle} not in:\n{lineage}");
    }
    let events = ok(&s.cmd(&["lineage", "r@production", "--format", "openlineage"]));
    check_openlineage(&events);
    validate_against_the_openlineage_spec(&events);
    let audit = json(&reg(&s, &["audit", "--json"]));
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["register", "register", "promote", "promote", "rollback"]
    );
    assert_eq!(audit[4]["why"], "incident");

    let diff = ok(&reg(&s, &["diff", "r/1", "r/2"]));
    assert!(
        diff.contains("accuracy") && diff.contains("largest slice gap"),
        "{diff}"
    );
    assert!(ok(&reg(&s, &["verify"])).contains("every artifact verified"));
}

#[test]
fn a_failed_gate_is_not_registered_and_needs_force_to_promote() {
    let s = setup();
    let out = run(&s, "\n[gates]\nmin_fidelity = 1.01\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("not registered: a gate failed"));
    let run_dir = s.runs()[0].clone();
    ok(&reg(
        &s,
        &["add", run_dir.to_str().unwrap(), "--why", "for the record"],
    ));
    let refused = reg(&s, &["promote", "r/1", "--to", "production"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("failed a gate"),
        "{}",
        stderr(&refused)
    );
    let no_reason = reg(&s, &["promote", "r/1", "--to", "production", "--force"]);
    assert_eq!(no_reason.status.code(), Some(2));
    ok(&reg(
        &s,
        &[
            "promote",
            "r/1",
            "--to",
            "production",
            "--force",
            "--why",
            "hotfix",
        ],
    ));
    let bad = reg(&s, &["show", "nope"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("it has r/1"), "{}", stderr(&bad));
}

#[test]
fn one_altered_byte_is_caught_and_named() {
    let s = setup();
    ok(&run(&s, ""));
    let shown = json(&reg(&s, &["show", "r/1", "--json"]));
    let student = shown["lineage"]["version"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role"] == "student")
        .unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_string();
    s.tamper(&student);
    let get = reg(&s, &["get", "r/1", "--out", "s.safetensors"]);
    assert_eq!(get.status.code(), Some(2));
    assert!(
        stderr(&get).contains("artifact 'student' of r/1 is corrupt"),
        "{}",
        stderr(&get)
    );
    let verify = reg(&s, &["verify"]);
    assert_eq!(verify.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("1 inconsistencies"));
}

fn add_child(s: &Setup, run_dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_distillery"))
        .args([
            "registry",
            "add",
            run_dir.to_str().unwrap(),
            "--actor",
            "crash",
        ])
        .current_dir(s.dir.path())
        .envs(crate::util::backend_env(s.dir.path()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn concurrent_writers_get_distinct_versions() {
    let s = setup();
    ok(&run(&s, ""));
    let run_dir: PathBuf = s.runs()[0].clone();
    let children: Vec<_> = (0..4).map(|_| add_child(&s, &run_dir)).collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let versions = json(&reg(&s, &["ls", "--json"]));
    let mut numbers: Vec<u64> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, [1, 2, 3, 4, 5]);
}

/// SIGKILL a registering process at 50 seeded random moments; the registry must stay
/// consistent and every surviving version must load. Each attempt registers a variant of
/// the run (its recipe and model card differ), so new objects are being written when the
/// kill lands, not only database rows.
#[test]
fn sigkill_at_random_moments_leaves_a_consistent_registry() {
    let s = setup();
    ok(&run(&s, "\n[quantize]\nint8 = true\n"));
    let original: PathBuf = s.runs()[0].clone();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..50 {
        let variant = s.path(&format!("variant-{i}"));
        std::fs::create_dir_all(&variant).unwrap();
        for e in std::fs::read_dir(&original).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), variant.join(e.file_name())).unwrap();
        }
        for f in ["recipe.toml", "model_card.md"] {
            let mut text = std::fs::read_to_string(variant.join(f)).unwrap();
            text.push_str(&format!("\n<!-- variant {i} -->\n"));
            std::fs::write(variant.join(f), text).unwrap();
        }
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let mut child = add_child(&s, &variant);
        std::thread::sleep(Duration::from_micros(state % 12_000));
        let _ = child.kill();
        let _ = child.wait();
    }
    let verify = reg(&s, &["verify"]);
    let out = String::from_utf8_lossy(&verify.stdout);
    assert_eq!(verify.status.code(), Some(0), "{out}{}", stderr(&verify));
    let versions = json(&reg(&s, &["ls", "--json"]));
    let versions = versions.as_array().unwrap();
    eprintln!(
        "{} of 50 killed registrations completed before the kill",
        versions.len() - 1
    );
    for v in versions {
        let label = format!("{}/{}", v["name"].as_str().unwrap(), v["version"]);
        ok(&reg(&s, &["get", &label, "--out", "x.safetensors"]));
        assert!(
            v["artifacts"].as_array().unwrap().len() >= 6,
            "{label} has all its artifacts"
        );
    }
    if crate::util::on_s3() {
        // One PUT per object: there are no temporary files to clean on S3.
        return;
    }
    let leftovers = std::fs::read_dir(s.objects())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with(".tmp-")
        })
        .count();
    assert_eq!(
        leftovers, 0,
        "opening the registry cleans interrupted writes"
    );
}

#[test]
fn production_can_require_a_valid_signature_from_a_trusted_key() {
    let (s, _) = trusting_alice();

    let unsigned = reg(&s, &["promote", "r/1", "--to", "production"]);
    assert_eq!(unsigned.status.code(), Some(2));
    assert!(
        stderr(&unsigned).contains("is not signed"),
        "{}",
        stderr(&unsigned)
    );
    assert!(
        ok(&reg(&s, &["promote", "r/1", "--to", "staging"])).contains("r@staging"),
        "only production needs it"
    );

    ok(&s.cmd(&["sign", "r/1", "--key", "mallory.secret"]));
    let untrusted = reg(&s, &["promote", "r/1", "--to", "production"]);
    assert_eq!(untrusted.status.code(), Some(2));
    assert!(
        stderr(&untrusted).contains("not among the trusted keys"),
        "{}",
        stderr(&untrusted)
    );

    ok(&s.cmd(&[
        "sign",
        "r/1",
        "--key",
        "alice.secret",
        "--out",
        "r1.sig.json",
    ]));
    let verified = ok(&s.cmd(&[
        "verify",
        "r/1",
        "--key",
        "alice.pub",
        "--signature",
        "r1.sig.json",
    ]));
    assert!(verified.contains("valid signature"), "{verified}");
    ok(&reg(
        &s,
        &["promote", "r/1", "--to", "production", "--why", "signed"],
    ));

    // A signed artifact altered afterwards: verification and promotion both refuse.
    let shown = json(&reg(&s, &["show", "r/1", "--json"]));
    let card = shown["lineage"]["version"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["role"] == "model_card")
        .unwrap()["hash"]
        .as_str()
        .unwrap()
        .to_string();
    s.overwrite_object(&card, b"# a different card\n");
    let tampered = s.cmd(&["verify", "r/1", "--key", "alice.pub"]);
    assert_eq!(tampered.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&tampered.stdout)
            .contains("artifact 'model_card' of r/1 is corrupt")
    );
    let blocked = reg(&s, &["promote", "r/1", "--to", "production"]);
    assert_eq!(blocked.status.code(), Some(2));
}

/// Stores a promotion policy with `registry config --file`, as on any backend.
fn set_policy(s: &Setup, policy: &str) {
    let file = s.write("policy.toml", policy);
    ok(&reg(
        s,
        &[
            "config",
            "--file",
            file.to_str().unwrap(),
            "--why",
            "policy",
        ],
    ));
    let shown = ok(&reg(s, &["config"]));
    assert!(shown.contains("require_signature = true"), "{shown}");
}

/// A registry holding r/1 whose config requires a signature from alice's key; keys for
/// alice and mallory in the working directory. Returns alice's public key file's text.
fn trusting_alice() -> (Setup, String) {
    let s = setup();
    ok(&run(&s, ""));
    ok(&s.cmd(&["keygen", "--out", "alice"]));
    ok(&s.cmd(&["keygen", "--out", "mallory"]));
    let alice = std::fs::read_to_string(s.path("alice.pub")).unwrap();
    let policy = format!(
        "[registry]\nrequire_signature = true\ntrusted_keys = [\"{}\"]\n",
        alice.trim()
    );
    if crate::util::on_postgres() {
        set_policy(&s, &policy);
    } else {
        // A folder registry also honours a hand-written config.toml.
        std::fs::write(s.path(".distillery/config.toml"), policy).unwrap();
    }
    (s, alice)
}

/// A registry whose config requires a signature from alice's key, with r/1 signed by
/// mallory (untrusted) and by alice, and promoted to production.
fn signed_registry() -> (Setup, String) {
    let (s, alice) = trusting_alice();
    ok(&s.cmd(&["sign", "r/1", "--key", "mallory.secret"]));
    ok(&s.cmd(&["sign", "r/1", "--key", "alice.secret"]));
    ok(&reg(
        &s,
        &["promote", "r/1", "--to", "production", "--why", "signed"],
    ));
    (s, alice)
}

#[test]
fn signing_is_easy_to_misuse() {
    // Issue #15: `sign --key me.pub` succeeded, `verify` without a key said "valid" for
    // any self-signed signature, and one extra untrusted signature failed `verify --key`.
    let (s, _) = signed_registry();
    let both = ok(&s.cmd(&["verify", "r/1", "--key", "alice.pub"]));
    assert!(both.contains("valid signature by trusted key"), "{both}");
    assert!(
        both.contains("which is not trusted (not counted)"),
        "{both}"
    );
    let public_as_secret = s.cmd(&["sign", "r/1", "--key", "alice.pub"]);
    assert_eq!(public_as_secret.status.code(), Some(2));
    assert!(
        stderr(&public_as_secret).contains("public key"),
        "{}",
        stderr(&public_as_secret)
    );
    std::fs::copy(s.path("alice.pub"), s.path("renamed.key")).unwrap();
    let renamed = s.cmd(&["sign", "r/1", "--key", "renamed.key"]);
    assert_eq!(
        renamed.status.code(),
        Some(2),
        "the file's kind, not its name"
    );
    set_policy(&s, "[registry]\nrequire_signature = true\n");
    let anchorless = s.cmd(&["verify", "r/1"]);
    assert_eq!(anchorless.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&anchorless.stdout).contains("no key is trusted"),
        "{}",
        String::from_utf8_lossy(&anchorless.stdout)
    );
}

#[test]
fn the_signature_policy_can_be_bypassed() {
    // Issue #15: with require_signature, an unsigned version reached all traffic through a
    // canary at weight 100, an alias spelled `Production` or `production `, or
    // `serve --model m/2`. Nothing unsigned is served now, whatever the route.
    let (s, _) = signed_registry();
    ok(&run(&s, ""));
    let spelled = reg(&s, &["promote", "r/2", "--to", "Production "]);
    assert_eq!(spelled.status.code(), Some(2));
    assert!(
        stderr(&spelled).contains("is not signed"),
        "{}",
        stderr(&spelled)
    );
    for args in [
        vec!["serve", "--port", "0", "--model", "r/2"],
        vec![
            "serve",
            "--port",
            "0",
            "--canary",
            "r/2",
            "--canary-weight",
            "100",
        ],
        vec![
            "serve",
            "--port",
            "0",
            "--model",
            "r@Production",
            "--shadow",
            "r/2",
        ],
    ] {
        let refused = s.cmd(&args);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&refused).contains("r/2 is not signed"),
            "{args:?}: {}",
            stderr(&refused)
        );
    }
    let bad_alias = reg(&s, &["promote", "r/2", "--to", "../../x"]);
    assert_eq!(bad_alias.status.code(), Some(2));
    assert!(
        stderr(&bad_alias).contains("alias \"../../x\""),
        "{}",
        stderr(&bad_alias)
    );
    // Without trusted keys the policy lets nothing through: a self-signed signature
    // proves nothing.
    set_policy(&s, "[registry]\nrequire_signature = true\n");
    let untrusting = s.cmd(&["serve", "--port", "0", "--model", "r/1"]);
    assert_eq!(untrusting.status.code(), Some(2));
    assert!(
        stderr(&untrusting).contains("lists no trusted_keys"),
        "{}",
        stderr(&untrusting)
    );
}

/// Validates the events against the OpenLineage 2-0-2 JSON Schemas in the shared specs
/// folder (never copied into the repository) with Python's `jsonschema`. Without the
/// folder or the validator the check is skipped, saying why; CI sets
/// DISTILLERY_REQUIRE_SPECS=1, and then a missing folder or validator fails.
fn validate_against_the_openlineage_spec(events: &str) {
    let required = std::env::var_os("DISTILLERY_REQUIRE_SPECS").is_some_and(|v| v == "1");
    let specs = crate::util::repo().join("../shared/specs/openlineage");
    let skip = |why: String| {
        assert!(!required, "DISTILLERY_REQUIRE_SPECS=1 but {why}");
        eprintln!("skipped the OpenLineage schema validation: {why}");
    };
    if !specs.join("OpenLineage.json").exists() {
        return skip(format!("{} is absent", specs.display()));
    }
    let python = crate::util::python();
    let importable = Command::new(&python)
        .args(["-c", "import jsonschema, referencing"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !importable {
        return skip(format!("{python} cannot import jsonschema"));
    }
    let mut child = Command::new(&python)
        .arg(crate::util::repo().join("tests/clients/validate_openlineage.py"))
        .arg(&specs)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), events.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(report.contains("validated 2 events and"), "{report}");
}

/// The OpenLineage 2-0-2 RunEvent rules the events must follow: required `eventTime`
/// (RFC 3339), `producer` and `schemaURL` (URIs), `run.runId` (a UUID), `job.namespace`
/// and `job.name`; `eventType` from the spec's enum; every dataset with a namespace and a
/// name; every facet with `_producer` and `_schemaURL`.
fn check_openlineage(text: &str) {
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["START", "COMPLETE"]);
    let is_uri = |v: &serde_json::Value| v.as_str().is_some_and(|s| s.starts_with("https://"));
    let facets_ok = |f: &serde_json::Value| {
        f.as_object()
            .unwrap()
            .values()
            .all(|f| is_uri(&f["_producer"]) && is_uri(&f["_schemaURL"]))
    };
    let mut times = Vec::new();
    for e in &events {
        assert_eq!(
            e["schemaURL"],
            "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
        );
        assert!(is_uri(&e["producer"]));
        let t = e["eventTime"].as_str().unwrap();
        times.push(humantime::parse_rfc3339_weak(t).unwrap());
        let id = e["run"]["runId"].as_str().unwrap();
        let groups: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12], "{id} is a UUID");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(e["job"]["namespace"], "distillery");
        assert_eq!(e["job"]["name"], "r");
        assert!(facets_ok(&e["run"]["facets"]) && facets_ok(&e["job"]["facets"]));
        for d in e["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .chain(e["outputs"].as_array().unwrap())
        {
            assert!(d["namespace"].is_string() && d["name"].is_string(), "{d}");
            assert!(facets_ok(&d["facets"]));
        }
    }
    assert!(times[0] <= times[1], "START precedes COMPLETE");
    assert_eq!(events[0]["run"]["runId"], events[1]["run"]["runId"]);
    assert_eq!(events[1]["outputs"][0]["name"], "r/1");
    let inputs: Vec<&str> = events[1]["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(inputs, ["file", "distillery-teacher"]);
}

#[test]
fn parallel_registrations_of_one_recipe_all_land() {
    // Three runs of one recipe into one registry at once, while readers open the store
    // (as `registry ls` and `serve` do): none may break another's object writes or
    // checkpoints.
    let s = setup();
    let recipe = s.write(
        "r.toml",
        &adult_recipe(&data("adult_sample.csv"), &onnx_line(), ""),
    );
    let spawn = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_distillery"))
            .args(args)
            .current_dir(s.dir.path())
            .envs(crate::util::backend_env(s.dir.path()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let runs: Vec<_> = (0..3)
        .map(|_| spawn(&["run", recipe.to_str().unwrap(), "--actor", "alice"]))
        .collect();
    let mut readers = Vec::new();
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(150));
        readers.push(spawn(&["registry", "ls"]));
    }
    for c in runs {
        let out = c.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    for r in readers {
        let _ = r.wait_with_output().unwrap();
    }
    let versions = json(&reg(&s, &["ls", "--json"]));
    assert_eq!(versions.as_array().unwrap().len(), 3);
    let verify = reg(&s, &["verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    assert!(
        !s.path("runs/.checkpoints").exists()
            || std::fs::read_dir(s.path("runs/.checkpoints"))
                .unwrap()
                .next()
                .is_none(),
        "every run removed its own checkpoints"
    );
}

#[test]
fn names_the_registry_cannot_address_are_refused_at_every_entry() {
    // Issue #15: `a/b`, `m@production`, empty names and aliases like `../../x` used to be
    // stored and then could never be referenced.
    let s = setup();
    for (name, says) in [
        ("a/b", "holds '/'"),
        ("m@production", "holds '@'"),
        ("", "the model name is empty"),
        ("two\\nlines", "holds '\\n'"),
    ] {
        let recipe = s.write(
            "bad.toml",
            &format!(
                "name = \"{name}\"\n{}",
                adult_recipe(&data("adult_sample.csv"), &onnx_line(), "")
            ),
        );
        let out = s.cmd(&["run", recipe.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{name:?}");
        assert!(stderr(&out).contains(says), "{name:?}: {}", stderr(&out));
    }
    // A mistyped --registry is not silently created empty.
    let typo = s.cmd(&["registry", "ls", "--registry", ".distilery"]);
    assert_eq!(typo.status.code(), Some(2));
    assert!(
        stderr(&typo).contains("no registry in .distilery"),
        "{}",
        stderr(&typo)
    );
    assert!(!s.path(".distilery").exists(), "nothing was created");
}
