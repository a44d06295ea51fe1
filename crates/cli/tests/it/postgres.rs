//! Issue #17 item 1 from the command line: a local registry migrated onto PostgreSQL with
//! its history, then used from there with nothing but `DISTILLERY_REGISTRY`.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{json, repo, setup, stderr};

/// A PostgreSQL server's admin URL, and the throwaway cluster to stop when this test
/// started one (`scripts/postgres.sh`); `None` where PostgreSQL is not installed, which
/// fails instead under `DISTILLERY_REQUIRE_POSTGRES=1` (CI).
pub(crate) struct Server {
    pub(crate) admin: String,
    cluster: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(dir) = &self.cluster {
            let _ = Command::new(repo().join("scripts/postgres.sh"))
                .arg("stop")
                .arg(dir.path())
                .output();
        }
    }
}

impl Server {
    /// A new empty database's URL.
    pub(crate) fn database(&self, name: &str) -> String {
        let mut c = postgres::Client::connect(&self.admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        format!("{}/{name}", self.admin.rsplit_once('/').unwrap().0)
    }
}

pub(crate) fn server() -> Option<Server> {
    if let Ok(admin) = std::env::var("DISTILLERY_TEST_POSTGRES") {
        return Some(Server {
            admin,
            cluster: None,
        });
    }
    let (admin, dir) =
        crate::util::script_server("scripts/postgres.sh", &[], "DISTILLERY_REQUIRE_POSTGRES")?;
    Some(Server {
        admin,
        cluster: Some(dir),
    })
}

#[test]
fn a_local_registry_moves_onto_postgres_with_its_history() {
    let Some(server) = server() else {
        return;
    };
    let s = setup();
    // Stays on the folder registry whatever the suite's backend: this is the source.
    let local = s.path(".distillery");
    let local = local.to_str().unwrap();
    let here = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend_from_slice(&["--registry", local]);
        s.cmd_env(&all, &[("DISTILLERY_OBJECTS", "")])
    };
    let recipe = s.write(
        "r.toml",
        &crate::util::adult_recipe(
            &crate::util::data("adult_sample.csv"),
            &crate::util::onnx_line(),
            "",
        ),
    );
    let run = here(&["run", recipe.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let promote = here(&[
        "registry",
        "promote",
        "r/1",
        "--to",
        "production",
        "--why",
        "go",
    ]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    let audit = here(&["registry", "audit", "--json"]);
    assert_eq!(audit.status.code(), Some(0), "{}", stderr(&audit));
    let before = json(&audit);

    let url = server.database(&format!("migrate_{}", std::process::id()));
    let with_password = url.replacen("distillery@", "distillery:hunter2@", 1);
    let objects: PathBuf = s.path("shared-objects");
    let migrate = s.cmd(&[
        "registry",
        "migrate",
        "--from",
        &format!("sqlite://{local}"),
        "--to",
        &with_password,
        "--to-objects",
        objects.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(migrate.status.code(), Some(0), "{}", stderr(&migrate));
    let m = json(&migrate);
    assert_eq!(m["versions"], 1);
    assert_eq!(m["audit_entries"], before.as_array().unwrap().len());
    assert!(m["problems"].as_array().unwrap().is_empty());
    assert!(
        !String::from_utf8_lossy(&migrate.stdout).contains("hunter2"),
        "the password never reaches the output"
    );
    // From now on the URL alone is the registry: the audit is the same, entry for entry.
    let there = |args: &[&str]| {
        s.cmd_env(
            args,
            &[
                ("DISTILLERY_REGISTRY", url.as_str()),
                ("DISTILLERY_OBJECTS", ""),
            ],
        )
    };
    let audit = there(&["registry", "audit", "--json"]);
    assert_eq!(audit.status.code(), Some(0), "{}", stderr(&audit));
    let after = json(&audit);
    assert_eq!(after, before);
    let verify = there(&["registry", "verify"]);
    assert_eq!(verify.status.code(), Some(0), "{}", stderr(&verify));
    let get = there(&["registry", "get", "r@production", "--out", "s.safetensors"]);
    assert_eq!(get.status.code(), Some(0), "{}", stderr(&get));
    assert_eq!(
        std::fs::read(s.path("s.safetensors")).unwrap(),
        std::fs::read(s.runs()[0].join("student.safetensors")).unwrap()
    );
    // A second migration into it is refused, and says why.
    let again = s.cmd(&["registry", "migrate", "--from", local, "--to", &url]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("migrate into an empty one"),
        "{}",
        stderr(&again)
    );
    // A missing source is named.
    let none = s.cmd(&["registry", "migrate", "--from", "nowhere", "--to", &url]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        stderr(&none).contains("no registry there"),
        "{}",
        stderr(&none)
    );
}
