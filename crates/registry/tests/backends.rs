//! Issue #17 item 1: the same registry tests on SQLite and on PostgreSQL.
//!
//! Each PostgreSQL test gets a database of its own: on the server `DISTILLERY_TEST_POSTGRES`
//! names (an admin URL), or else on a throwaway cluster started from Debian's `postgresql`
//! package by `scripts/postgres.sh`. Without PostgreSQL the PostgreSQL half is skipped with
//! a message; with `DISTILLERY_REQUIRE_POSTGRES=1` (CI) it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use distillery_registry::{Change, Reference, Registry, keygen, sign};

const ME: Change<'static> = Change {
    actor: "tester",
    why: "test",
};

/// A server to create test databases on, stopped on drop when this test started it.
struct Server {
    admin: String,
    started: Option<(PathBuf, tempfile::TempDir)>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((script, dir)) = &self.started {
            let _ = Command::new(script).arg("stop").arg(dir.path()).output();
        }
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The PostgreSQL server for this test, or `None` (with a message) where there is none.
fn server() -> Option<Server> {
    if let Ok(admin) = std::env::var("DISTILLERY_TEST_POSTGRES") {
        return Some(Server {
            admin,
            started: None,
        });
    }
    let script = repo().join("scripts/postgres.sh");
    let dir = tempfile::Builder::new()
        .prefix("distillery-pg")
        .tempdir_in("/tmp")
        .unwrap();
    let out = Command::new(&script)
        .arg("start")
        .arg(dir.path())
        .arg(free_port().to_string())
        .output()
        .unwrap();
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        assert!(
            std::env::var_os("DISTILLERY_REQUIRE_POSTGRES").is_none(),
            "DISTILLERY_REQUIRE_POSTGRES is set but no cluster starts: {why}"
        );
        eprintln!("skipping the PostgreSQL half: {why}");
        return None;
    }
    let admin = String::from_utf8_lossy(&out.stdout).trim().to_string();
    Some(Server {
        admin,
        started: Some((script, dir)),
    })
}

static DATABASES: AtomicUsize = AtomicUsize::new(0);

impl Server {
    /// A fresh, empty database's URL.
    fn database(&self) -> String {
        let name = format!(
            "t{}_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed),
            rand_suffix()
        );
        let mut c = postgres::Client::connect(&self.admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        let base = self.admin.rsplit_once('/').unwrap().0;
        format!("{base}/{name}")
    }
}

fn rand_suffix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos()
        .into()
}

/// Where a test's registry lives: its location and its objects.
struct Backend {
    name: &'static str,
    location: PathBuf,
    objects: Option<String>,
}

impl Backend {
    fn open(&self) -> Registry {
        Registry::open_with(&self.location, self.objects.as_deref()).unwrap()
    }
}

/// SQLite in `root`, then PostgreSQL (objects in a folder under `root`) when there is a server.
fn backends(root: &Path, server: Option<&Server>) -> Vec<Backend> {
    let mut out = vec![Backend {
        name: "sqlite",
        location: root.join(".distillery"),
        objects: None,
    }];
    if let Some(s) = server {
        out.push(Backend {
            name: "postgres",
            location: PathBuf::from(s.database()),
            objects: Some(root.join("pg-objects").to_string_lossy().to_string()),
        });
    }
    out
}

fn run_dir(root: &Path, id: &str, passed: bool) -> PathBuf {
    let dir = root.join("runs").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let report = serde_json::json!({
        "schema": "distillery-report/1", "kind": "run", "run_id": id, "name": "adult",
        "created": "2026-11-27T00:00:00Z", "recipe_hash": "r", "seed": 7, "tool_version": "0.1.0",
        "seconds": 1.0,
        "dataset": {"fingerprint": "fp", "train_file": "t.csv", "test_file": null,
                    "classes": ["a", "b"], "train_rows": 8, "validation_rows": 1, "test_rows": 2},
        "student": {"accuracy": 0.9, "fidelity": 0.95},
        "gates": [{"gate": "min_fidelity", "threshold": 0.9, "value": 0.95, "passed": passed}]
    });
    std::fs::write(dir.join("report.json"), report.to_string()).unwrap();
    std::fs::write(dir.join("student.safetensors"), format!("weights of {id}")).unwrap();
    dir
}

/// Versions, aliases, rollback, tags, signatures, lineage and the audit log, as one user
/// meets them; the same on every backend.
fn life_of_a_model(b: &Backend, root: &Path) {
    let reg = b.open();
    let v1 = reg
        .register_run(&run_dir(root, "r1", true), "tester", "first")
        .unwrap();
    let v2 = reg
        .register_run(&run_dir(root, "r2", true), "tester", "")
        .unwrap();
    assert_eq!((v1.version, v2.version), (1, 2), "{}", b.name);
    assert_eq!(reg.load(&v1, "student").unwrap(), b"weights of r1");
    reg.promote(&v1, "production", false, &ME).unwrap();
    reg.promote(&v2, "production", false, &ME).unwrap();
    let prod = Reference::parse("adult@production").unwrap();
    assert_eq!(reg.resolve(&prod).unwrap().version, 2);
    assert_eq!(reg.rollback("adult", "production", &ME).unwrap(), (2, 1));
    assert_eq!(reg.resolve(&prod).unwrap().version, 1);
    assert_eq!(
        reg.store().alias_history("adult", "production").unwrap(),
        [Some(1), Some(2), Some(1)]
    );
    assert_eq!(reg.store().alias_generation().unwrap(), 3, "{}", b.name);
    reg.store()
        .set_tag("adult", 1, "owner", "ml-team", &ME)
        .unwrap();
    reg.store()
        .set_tag("adult", 1, "owner", "risk-team", &ME)
        .unwrap();
    assert_eq!(
        reg.store().tags("adult", 1).unwrap(),
        [("owner".into(), "risk-team".into())]
    );
    let (secret, public) = keygen();
    let s = sign(&v1, &secret).unwrap();
    reg.store().add_signature("adult", 1, &s, &ME).unwrap();
    reg.store().add_signature("adult", 1, &s, &ME).unwrap();
    let stored = reg.store().signatures("adult", 1).unwrap();
    assert_eq!(stored.len(), 1, "re-signing replaces: {}", b.name);
    distillery_registry::verify(&v1, &stored[0], &[public]).unwrap();
    let actions: Vec<String> = reg
        .store()
        .audit(Some("adult"))
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(
        actions,
        [
            "register", "register", "promote", "promote", "rollback", "tag", "tag", "sign", "sign"
        ],
        "{}",
        b.name
    );
    let lineage = reg.lineage(&v1).unwrap();
    assert_eq!(lineage.dataset.unwrap().rows, 11);
    assert_eq!(lineage.run.unwrap().metrics["fidelity"], 0.95);
    assert_eq!(lineage.aliases, ["production"]);
    assert!(reg.verify().unwrap().is_empty(), "{}", b.name);
    assert!(reg.store().integrity_check().unwrap().is_empty());
    // A second process sees all of it.
    let again = b.open();
    assert_eq!(
        again.store().versions(None).unwrap(),
        reg.store().versions(None).unwrap()
    );
}

#[test]
fn a_model_lives_the_same_life_on_every_backend() {
    let server = server();
    let root = tempfile::tempdir().unwrap();
    let all = backends(root.path(), server.as_ref());
    for b in &all {
        life_of_a_model(b, root.path());
    }
    // The two backends agree row for row, except for the times things happened.
    if let [sqlite, postgres] = &all[..] {
        let strip = |b: &Backend| {
            let mut d = b.open().store().dump().unwrap();
            for (_, e) in &mut d.audit {
                e.at.clear();
            }
            for v in &mut d.versions {
                v.created.clear();
            }
            for (_, _, _, at) in &mut d.signatures {
                at.clear();
            }
            // Signatures are random per keygen; compare who signed what, not the bytes.
            d.signatures.clear();
            d.settings.clear();
            d
        };
        let (a, mut b) = (strip(sqlite), strip(postgres));
        for ((_, x), (_, y)) in b.audit.iter_mut().zip(&a.audit) {
            if x.action == "sign" {
                x.details = y.details.clone();
            }
        }
        assert_eq!(a.versions, b.versions);
        assert_eq!(a.aliases, b.aliases);
        assert_eq!(a.alias_history, b.alias_history);
        assert_eq!(a.tags, b.tags);
        assert_eq!(a.datasets, b.datasets);
        assert_eq!(a.runs, b.runs);
        assert_eq!(a.audit.len(), b.audit.len());
    }
}

#[test]
fn concurrent_writers_get_distinct_versions_and_promoters_never_interleave() {
    let server = server();
    let root = tempfile::tempdir().unwrap();
    for b in backends(root.path(), server.as_ref()) {
        let writers = 4;
        let each = 3;
        std::thread::scope(|s| {
            for w in 0..writers {
                let b = &b;
                let root = root.path();
                s.spawn(move || {
                    // A separate connection per writer, as on separate machines.
                    let reg = b.open();
                    for i in 0..each {
                        let id = format!("{}-w{w}-{i}", b.name);
                        reg.register_run(&run_dir(root, &id, true), "tester", "")
                            .unwrap();
                    }
                });
            }
        });
        let reg = b.open();
        let mut numbers: Vec<u32> = reg
            .store()
            .versions(Some("adult"))
            .unwrap()
            .iter()
            .map(|v| v.version)
            .collect();
        numbers.sort_unstable();
        let expected: Vec<u32> = (1..=(writers * each) as u32).collect();
        assert_eq!(numbers, expected, "{}", b.name);

        // Parallel promoters: every change lands once, in the history and the audit, and
        // each "from" in the audit is the "to" of the change before it.
        std::thread::scope(|s| {
            for w in 0..writers {
                let b = &b;
                s.spawn(move || {
                    let reg = b.open();
                    for i in 0..5u32 {
                        let target = 1 + (w as u32 * 5 + i) % (writers * each) as u32;
                        let v = reg
                            .resolve(&Reference::Version("adult".into(), target))
                            .unwrap();
                        reg.promote(&v, "production", false, &ME).unwrap();
                    }
                });
            }
        });
        let history = reg.store().alias_history("adult", "production").unwrap();
        assert_eq!(history.len(), writers * 5, "{}", b.name);
        let promotes: Vec<serde_json::Value> = reg
            .store()
            .audit(Some("adult"))
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "promote")
            .map(|e| e.details)
            .collect();
        assert_eq!(promotes.len(), writers * 5);
        for pair in promotes.windows(2) {
            assert_eq!(pair[1]["from"], pair[0]["to"], "{}: {pair:?}", b.name);
        }
        assert_eq!(
            promotes.last().unwrap()["to"],
            serde_json::json!(reg.store().alias("adult", "production").unwrap()),
        );
    }
}

#[test]
fn migration_copies_a_registry_with_its_history() {
    let Some(server) = server() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let source = Registry::open(&root.path().join(".distillery")).unwrap();
    let v1 = source
        .register_run(&run_dir(root.path(), "r1", true), "alice", "first")
        .unwrap();
    source.promote(&v1, "production", false, &ME).unwrap();
    let (secret, _) = keygen();
    source
        .store()
        .add_signature("adult", 1, &sign(&v1, &secret).unwrap(), &ME)
        .unwrap();
    let url = PathBuf::from(server.database());
    let objects = root.path().join("shared-objects");
    let target = Registry::open_with(&url, Some(objects.to_str().unwrap())).unwrap();
    let dump = source.migrate_to(&target).unwrap();
    assert!(!dump.is_empty());
    // The artifacts came along, hash-checked.
    assert_eq!(target.load(&v1, "student").unwrap(), b"weights of r1");
    assert!(target.verify().unwrap().is_empty());
    let mut copied = target.store().dump().unwrap();
    copied.settings.clear();
    let mut original = dump.clone();
    original.settings.clear();
    assert_eq!(
        copied, original,
        "every row, with its recorded time and actor"
    );
    let e = source.migrate_to(&target).unwrap_err().to_string();
    assert!(e.contains("migrate into an empty one"), "{e}");
    let e = target.store().restore(&dump).unwrap_err().to_string();
    assert!(e.contains("migrate into an empty one"), "{e}");

    // And back: PostgreSQL into a fresh SQLite registry gives the same rows again.
    let back = Registry::open(&root.path().join("back")).unwrap();
    target.migrate_to(&back).unwrap();
    let mut round = back.store().dump().unwrap();
    round.settings.clear();
    assert_eq!(round, original);
}

#[test]
fn postgres_keeps_the_audit_append_only_and_remembers_its_objects() {
    let Some(server) = server() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let url = server.database();
    let e = Registry::open_with(Path::new(&url), None)
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("give --objects"), "{e}");
    let objects = root.path().join("objects");
    let reg = Registry::open_with(Path::new(&url), Some(objects.to_str().unwrap())).unwrap();
    reg.register_run(&run_dir(root.path(), "r1", true), "tester", "")
        .unwrap();
    // A later process needs no --objects: the registry recorded where they are.
    let later = Registry::open(Path::new(&url)).unwrap();
    assert_eq!(later.store().versions(None).unwrap().len(), 1);
    let e = Registry::open_with(Path::new(&url), Some("/elsewhere"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("keeps its artifacts in"), "{e}");

    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    for sql in [
        "DELETE FROM audit",
        "UPDATE audit SET why = 'nothing happened'",
        "TRUNCATE audit",
    ] {
        let e = c.batch_execute(sql).unwrap_err();
        let text = format!("{e:?}");
        assert!(text.contains("append-only"), "{sql}: {text}");
    }
}

#[test]
fn a_decision_several_replicas_reach_at_once_is_taken_once() {
    let server = server();
    let root = tempfile::tempdir().unwrap();
    for b in backends(root.path(), server.as_ref()) {
        let reg = b.open();
        let v1 = reg
            .register_run(
                &run_dir(root.path(), &format!("{}-g1", b.name), true),
                "t",
                "",
            )
            .unwrap();
        reg.store()
            .set_alias("adult", "canary", Some(v1.version), "canary weight 10", &ME)
            .unwrap();
        reg.store()
            .set_routing("adult", "canary_weight", Some("10"))
            .unwrap();
        assert_eq!(
            reg.store().routing("adult").unwrap(),
            [("canary_weight".to_string(), "10".to_string())]
        );
        // Four replicas breach the guardrail together: one rollback is recorded.
        let decided: Vec<bool> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    let b = &b;
                    s.spawn(move || {
                        b.open()
                            .store()
                            .clear_alias_if(
                                "adult",
                                "canary",
                                v1.version,
                                "guardrail rollback",
                                &ME,
                            )
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            decided.iter().filter(|d| **d).count(),
            1,
            "{}: {decided:?}",
            b.name
        );
        let rollbacks = reg
            .store()
            .audit(Some("adult"))
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "guardrail rollback")
            .count();
        assert_eq!(rollbacks, 1, "{}", b.name);
        assert_eq!(reg.store().alias("adult", "canary").unwrap(), None);
        reg.store()
            .set_routing("adult", "canary_weight", None)
            .unwrap();
        assert!(reg.store().routing("adult").unwrap().is_empty());
    }
}
