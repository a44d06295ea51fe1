//! The registry as callers use it: register a run directory, resolve `name@alias`,
//! promote and roll back aliases, tag, load artifacts (hash-checked), verify everything
//! and trace lineage. Artifacts are stored before the version that points at them is
//! committed, so a crash at any moment leaves no version pointing at a missing object.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::dump::Dump;
use crate::error::{RegistryError, Result};
use crate::objects::Artifacts;
use crate::postgres_store::PostgresStore;
use crate::records::{Artifact, AuditEntry, Dataset, ModelVersion, Reference, RunRecord};
use crate::sqlite::SqliteStore;
use crate::store::{Change, Store};

/// Files of a run directory that a version keeps, by role. The first is required.
pub const RUN_FILES: &[(&str, &str)] = &[
    ("student", "student.safetensors"),
    ("onnx", "student.onnx"),
    ("int8", "student.int8.safetensors"),
    ("int8_onnx", "student.int8.onnx"),
    ("report", "report.json"),
    ("report_html", "report.html"),
    ("model_card", "model_card.md"),
    ("recipe", "recipe.toml"),
    ("profile", "profile.json"),
    ("evidence", "redistill.json"),
];

/// An open registry directory (`registry.db` + `objects/` + optional `config.toml`).
pub struct Registry {
    dir: PathBuf,
    store: Box<dyn Store>,
    objects: Box<dyn Artifacts>,
    config: Config,
    /// The PostgreSQL URL (with its password), for the alias listener.
    url: Option<String>,
}

/// `config.toml` in the registry directory:
/// `[registry] require_signature = true`, `trusted_keys = ["<hex public key>", …]`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct Config {
    /// The `[registry]` table.
    pub registry: RegistryConfig,
}

/// Promotion policy.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistryConfig {
    /// Promotion to `production` needs a valid signature.
    pub require_signature: bool,
    /// Public keys (hex) whose signatures count; empty = any key.
    pub trusted_keys: Vec<String>,
}

/// Everything known about where a version came from.
#[derive(Debug, Clone, Serialize)]
pub struct Lineage {
    /// The dataset.
    pub dataset: Option<Dataset>,
    /// The run.
    pub run: Option<RunRecord>,
    /// The version.
    pub version: ModelVersion,
    /// Aliases pointing at it now.
    pub aliases: Vec<String>,
    /// Its audit trail (registration, alias changes, tags).
    pub events: Vec<AuditEntry>,
}

impl Registry {
    /// Opens (creating) the registry in `dir`, or on the PostgreSQL server `dir` names
    /// (`postgres://…`), with its objects where the registry recorded them.
    pub fn open(dir: &Path) -> Result<Registry> {
        Registry::open_with(dir, None)
    }

    /// Opens (creating) a registry; `objects` (a folder, or `s3://bucket/prefix`) says
    /// where its artifacts live. The first value given is recorded in the registry, so
    /// every later process, on any machine, finds the same objects without being told;
    /// a different value later is refused rather than silently splitting the artifacts.
    pub fn open_with(location: &Path, objects: Option<&str>) -> Result<Registry> {
        let text = location.to_string_lossy();
        let (store, dir, config, default_objects): (Box<dyn Store>, PathBuf, Config, _) =
            if is_postgres(&text) {
                let store = PostgresStore::open(&text)?;
                let shown = PathBuf::from(store.shown());
                (Box::new(store), shown, Config::default(), None)
            } else {
                let dir = location;
                let fresh = !dir.exists();
                std::fs::create_dir_all(dir).map_err(|source| RegistryError::Io {
                    path: dir.to_path_buf(),
                    source,
                })?;
                if fresh {
                    // A new registry holds models and their data's fingerprints: its
                    // owner's only. An existing one keeps the permissions its owner gave it.
                    crate::objects::owner_only(dir, 0o700);
                }
                let store = SqliteStore::open(&dir.join("registry.db"))?;
                let objects = dir.join("objects").to_string_lossy().to_string();
                (
                    Box::new(store),
                    dir.to_path_buf(),
                    read_config(dir)?,
                    Some(objects),
                )
            };
        let recorded = store.setting("objects")?;
        let objects = match (recorded, objects) {
            (Some(held), Some(asked)) if held != absolute(asked) => {
                return Err(RegistryError::Invalid(format!(
                    "the registry {} keeps its artifacts in {held}, not {asked}; drop --objects (DISTILLERY_OBJECTS) or give {held}",
                    dir.display()
                )));
            }
            (Some(held), _) => held,
            (None, Some(asked)) => store.put_setting_if_absent("objects", &absolute(asked))?,
            (None, None) => default_objects.ok_or_else(|| {
                RegistryError::Invalid(format!(
                    "the registry {} has no artifact store yet; give --objects (or DISTILLERY_OBJECTS) once: a folder every machine shares, or s3://bucket/prefix",
                    dir.display()
                ))
            })?,
        };
        // A policy stored with `registry config` wins over a hand-written config.toml.
        let config = match store.setting("config")? {
            Some(text) => parse_config(&text, "the registry's stored policy")?,
            None => config,
        };
        Ok(Registry {
            dir,
            store,
            objects: crate::objects::open(&objects)?,
            config,
            url: is_postgres(&text).then(|| text.to_string()),
        })
    }

    /// Calls `wake` whenever another process changes an alias, for servers that follow
    /// the registry: on PostgreSQL through `LISTEN` on a connection of its own (true);
    /// elsewhere there is nothing to listen to and the caller polls (false).
    pub fn listen_for_alias_changes(&self, wake: Box<dyn Fn() + Send>) -> bool {
        let Some(url) = &self.url else {
            return false;
        };
        crate::postgres_store::listen_for_alias_changes(url.clone(), wake);
        true
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The metadata store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Registers the student of a finished run directory as the next version of its model.
    pub fn register_run(&self, run_dir: &Path, actor: &str, why: &str) -> Result<ModelVersion> {
        let bad = |message: String| RegistryError::BadRun {
            path: run_dir.to_path_buf(),
            message,
        };
        let report_bytes = std::fs::read(run_dir.join("report.json")).map_err(|e| {
            bad(format!(
                "no readable report.json ({e}); is this a run directory?"
            ))
        })?;
        let report: serde_json::Value = serde_json::from_slice(&report_bytes)
            .map_err(|e| bad(format!("report.json is not JSON: {e}")))?;
        if report["schema"] != "distillery-report/1" || report["kind"] != "run" {
            return Err(bad(format!(
                "report.json has schema {} and kind {}; only runs of schema distillery-report/1 can be registered",
                report["schema"], report["kind"]
            )));
        }
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_string();
        let name = text(&report["name"]);
        crate::names::model_name(&name).map_err(|e| {
            bad(format!(
                "{e}; set a valid `name` in the recipe and run it again"
            ))
        })?;
        let run_id = text(&report["run_id"]);
        // 1. Objects first, each durable before the database mentions it.
        let mut artifacts = Vec::new();
        for (i, (role, file)) in RUN_FILES.iter().enumerate() {
            let path = run_dir.join(file);
            let bytes = match std::fs::read(&path) {
                Ok(b) => b,
                Err(_) if i > 0 => continue,
                Err(e) => return Err(bad(format!("cannot read {file}: {e}"))),
            };
            let hash = self.objects.put(&bytes)?;
            artifacts.push(Artifact {
                role: (*role).into(),
                file: (*file).into(),
                hash,
                bytes: bytes.len() as u64,
            });
        }
        // 2. Then the records, each insert atomic; the version last.
        let d = &report["dataset"];
        let fingerprint = text(&d["fingerprint"]);
        let count = |k: &str| d[k].as_u64().unwrap_or(0);
        self.store.put_dataset(&Dataset {
            fingerprint: fingerprint.clone(),
            source: text(&d["train_file"]),
            test_source: d["test_file"].as_str().map(str::to_string),
            rows: count("train_rows") + count("validation_rows") + count("test_rows"),
            classes: serde_json::from_value(d["classes"].clone()).unwrap_or_default(),
            checks: report
                .get("checks")
                .cloned()
                .unwrap_or(serde_json::Value::Null),
        })?;
        let student = &report["student"];
        let metrics: BTreeMap<String, f64> = [
            "accuracy",
            "macro_f1",
            "log_loss",
            "fidelity",
            "mean_kl",
            "latency_us",
        ]
        .iter()
        .filter_map(|k| student[*k].as_f64().map(|v| ((*k).to_string(), v)))
        .collect();
        let gates = report["gates"].clone();
        let gates_passed = gates
            .as_array()
            .is_none_or(|g| g.iter().all(|g| g["passed"] == true));
        self.store.put_run(&RunRecord {
            run_id: run_id.clone(),
            name: name.clone(),
            recipe_hash: text(&report["recipe_hash"]),
            seed: report["seed"].as_u64().unwrap_or(0),
            tool_version: text(&report["tool_version"]),
            ended: text(&report["created"]),
            seconds: report["seconds"].as_f64().unwrap_or(0.0),
            status: "completed".into(),
            dataset: fingerprint,
            teacher: teacher_identity(run_dir),
            metrics,
            gates,
        })?;
        self.store.create_version(
            &name,
            &run_id,
            &artifacts,
            gates_passed,
            &Change { actor, why },
        )
    }

    /// The version a reference names.
    pub fn resolve(&self, reference: &Reference) -> Result<ModelVersion> {
        let name = reference.name();
        let version = match reference {
            Reference::Latest(_) => self.store.versions(Some(name))?.last().map(|v| v.version),
            Reference::Version(_, v) => Some(*v),
            Reference::Alias(_, alias) => self.store.alias(name, alias)?,
        };
        let missing = || {
            let known: Vec<String> = self
                .store
                .versions(None)
                .map(|v| v.iter().map(ModelVersion::label).collect())
                .unwrap_or_default();
            RegistryError::NotFound(match reference {
                Reference::Alias(n, a) => format!(
                    "{n}@{a} is not set; `distillery registry promote {n}/<version> --to {a}` sets it"
                ),
                _ if known.is_empty() => format!(
                    "no model '{name}' in the registry; it is empty (runs register their student when every gate passes)"
                ),
                _ => format!(
                    "no {} in the registry; it has {}",
                    describe(reference),
                    known.join(", ")
                ),
            })
        };
        let version = version.ok_or_else(missing)?;
        self.store.version(name, version)?.ok_or_else(missing)
    }

    /// Points `alias` at `version`. A version whose gates failed is refused unless
    /// `force` (which needs a reason).
    pub fn promote(
        &self,
        version: &ModelVersion,
        alias: &str,
        force: bool,
        change: &Change<'_>,
    ) -> Result<Option<u32>> {
        if !version.gates_passed && !force {
            return Err(RegistryError::Invalid(format!(
                "{} failed a gate in its run; promote it anyway with --force --why \"…\"",
                version.label()
            )));
        }
        let alias = crate::names::alias_name(alias)?;
        let alias = alias.as_str();
        if alias == "production" && self.config.registry.require_signature {
            self.check_signature(version)?;
        }
        if force && change.why.trim().is_empty() {
            return Err(RegistryError::Invalid(
                "--force needs --why \"…\": the audit log records the reason".into(),
            ));
        }
        let action = if force { "promote (forced)" } else { "promote" };
        self.store
            .set_alias(&version.name, alias, Some(version.version), action, change)
    }

    /// Succeeds when this version may be served: always without a signature policy; with
    /// `require_signature`, only with a valid signature from a trusted key. Serving checks
    /// every version it loads (stable, canary, shadow, `--model m/2`), whatever alias or
    /// route brought it there: the policy belongs to serving, not to an alias name.
    ///
    /// # Errors
    /// The policy is on and the version is unsigned, signed by an untrusted key, or altered.
    pub fn check_servable(&self, version: &ModelVersion) -> Result<()> {
        if !self.config.registry.require_signature {
            return Ok(());
        }
        self.check_signature(version).map_err(|e| {
            RegistryError::Invalid(format!(
                "{e} (this registry requires a trusted signature for anything it serves)"
            ))
        })
    }

    /// Stores the promotion policy (the text of a `config.toml`) in the registry itself,
    /// audited, so every machine sharing the registry applies the same policy; checked
    /// (keys parse) before it is stored.
    pub fn set_config(&mut self, text: &str, change: &Change<'_>) -> Result<()> {
        let config = parse_config(text, "the policy")?;
        for key in &config.registry.trusted_keys {
            crate::signing::public_key(key)?;
        }
        self.store.put_setting("config", text, change)?;
        self.config = config;
        Ok(())
    }

    /// The registry's settings (`config.toml`).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Succeeds when the version carries a signature that verifies against its current
    /// artifacts, from a key in `trusted_keys`. With the signature policy on and no
    /// trusted keys listed, nothing passes: a self-signed signature proves nothing.
    pub fn check_signature(&self, version: &ModelVersion) -> Result<()> {
        for a in &version.artifacts {
            self.load(version, &a.role)?;
        }
        let signatures = self.store.signatures(&version.name, version.version)?;
        if signatures.is_empty() {
            return Err(RegistryError::Invalid(format!(
                "{} is not signed and this registry requires a signature for production; `distillery sign {} --key <key>.secret`",
                version.label(),
                version.label()
            )));
        }
        let trusted = self.trusted_keys()?;
        if trusted.is_empty() {
            return Err(RegistryError::Invalid(format!(
                "{} cannot be checked: config.toml lists no trusted_keys, and a signature from an unknown key proves nothing; add the signers' public keys (their .pub files' contents)",
                version.label()
            )));
        }
        let mut last = None;
        for s in &signatures {
            match crate::signing::verify(version, s, &trusted) {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| RegistryError::Invalid("no valid signature".into())))
    }

    /// The trusted public keys of `config.toml`, as lower-case hex.
    ///
    /// # Errors
    /// An entry that is not a public key (a secret key pasted by mistake, say).
    pub fn trusted_keys(&self) -> Result<Vec<String>> {
        self.config
            .registry
            .trusted_keys
            .iter()
            .map(|k| {
                crate::signing::public_key(k)
                    .map_err(|e| RegistryError::Invalid(format!("config.toml trusted_keys: {e}")))
            })
            .collect()
    }

    /// Points `alias` of `name` back at the version it named before its latest change;
    /// returns (from, to).
    pub fn rollback(&self, name: &str, alias: &str, change: &Change<'_>) -> Result<(u32, u32)> {
        let alias = crate::names::alias_name(alias)?;
        let alias = alias.as_str();
        let current = self.store.alias(name, alias)?.ok_or_else(|| {
            RegistryError::NotFound(format!("{name}@{alias} is not set; nothing to roll back"))
        })?;
        let history = self.store.alias_history(name, alias)?;
        let previous = history
            .iter()
            .rev()
            .skip(1)
            .flatten()
            .find(|&&v| v != current)
            .copied()
            .ok_or_else(|| {
                RegistryError::NotFound(format!(
                    "{name}@{alias} has pointed only at version {current}; there is nothing to roll back to"
                ))
            })?;
        self.store
            .set_alias(name, alias, Some(previous), "rollback", change)?;
        Ok((current, previous))
    }

    /// Reads one artifact of a version, checking its hash.
    pub fn load(&self, version: &ModelVersion, role: &str) -> Result<Vec<u8>> {
        let a = version.artifact(role).ok_or_else(|| {
            RegistryError::NotFound(format!("{} has no '{role}' artifact", version.label()))
        })?;
        self.objects.get(&a.hash, role, &version.label())
    }

    /// Checks the database and every artifact of every version; returns the problems.
    pub fn verify(&self) -> Result<Vec<String>> {
        let mut problems = self.store.integrity_check()?;
        for v in self.store.versions(None)? {
            for a in &v.artifacts {
                if let Err(e) = self.objects.get(&a.hash, &a.role, &v.label()) {
                    problems.push(e.to_string());
                }
            }
        }
        Ok(problems)
    }

    /// Copies this registry into `target` (which must be empty): every artifact object
    /// first (each re-hashed on read), then every row in one transaction, keeping recorded
    /// times, actors and reasons. A crash before the rows commit leaves `target` empty of
    /// metadata, so the migration can simply be run again.
    pub fn migrate_to(&self, target: &Registry) -> Result<Dump> {
        let dump = self.store.dump()?;
        let theirs = target.store.dump()?;
        if !theirs.is_empty() {
            return Err(RegistryError::Invalid(format!(
                "{} already holds a registry ({}); migrate into an empty one",
                target.dir.display(),
                theirs.summary()
            )));
        }
        for v in &dump.versions {
            for a in &v.artifacts {
                let bytes = self.objects.get(&a.hash, &a.role, &v.label())?;
                target.objects.put(&bytes)?;
            }
        }
        let mut rows = dump.clone();
        // The target keeps its own record of where its objects are.
        rows.settings.retain(|(k, _)| k != "objects");
        // A folder's hand-written policy travels as the target's stored policy.
        if !rows.settings.iter().any(|(k, _)| k == "config")
            && let Ok(text) = std::fs::read_to_string(self.dir.join("config.toml"))
        {
            rows.settings.push(("config".into(), text));
        }
        target.store.restore(&rows)?;
        Ok(dump)
    }

    /// Where a version came from and what happened to it since.
    pub fn lineage(&self, version: &ModelVersion) -> Result<Lineage> {
        let run = self.store.run(&version.run_id)?;
        let dataset = match &run {
            Some(r) => self.store.dataset(&r.dataset)?,
            None => None,
        };
        let aliases = self
            .store
            .aliases(&version.name)?
            .into_iter()
            .filter(|(_, v)| *v == version.version)
            .map(|(a, _)| a)
            .collect();
        let label = version.label();
        let events = self
            .store
            .audit(Some(&version.name))?
            .into_iter()
            .filter(|e| {
                e.target == label
                    || e.details["to"].as_u64() == Some(u64::from(version.version))
                    || e.details["from"].as_u64() == Some(u64::from(version.version))
            })
            .collect();
        Ok(Lineage {
            dataset,
            run,
            version: version.clone(),
            aliases,
            events,
        })
    }
}

/// Whether a `--registry` value names a PostgreSQL server rather than a folder.
pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// An objects location as recorded: a local folder made absolute (other processes start
/// elsewhere), an `s3://` URL as given.
fn absolute(objects: &str) -> String {
    if objects.contains("://") {
        return objects.to_string();
    }
    std::path::absolute(objects)
        .map_or_else(|_| objects.to_string(), |p| p.to_string_lossy().to_string())
}

/// A registry folder's `config.toml` (none: the defaults).
fn read_config(dir: &Path) -> Result<Config> {
    let config_path = dir.join("config.toml");
    match std::fs::read_to_string(&config_path) {
        Ok(text) => parse_config(&text, &config_path.display().to_string()),
        Err(_) => Ok(Config::default()),
    }
}

/// Parses a promotion policy (`[registry] require_signature`, `trusted_keys`).
fn parse_config(text: &str, from: &str) -> Result<Config> {
    toml::from_str(text).map_err(|e| RegistryError::Invalid(format!("{from}: {}", e.message())))
}

fn describe(r: &Reference) -> String {
    match r {
        Reference::Latest(n) => format!("model '{n}'"),
        Reference::Version(n, v) => format!("{n}/{v}"),
        Reference::Alias(n, a) => format!("{n}@{a}"),
    }
}

/// The teacher identity recorded in the student's provenance.
fn teacher_identity(run_dir: &Path) -> String {
    std::fs::read(run_dir.join("student.safetensors"))
        .ok()
        .and_then(|b| distillery_runtime::Student::from_bytes(&b).ok())
        .and_then(|s| s.provenance().get("teacher")?.as_str().map(str::to_string))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_new_registry_and_its_objects_are_its_owners_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("reg");
        let registry = Registry::open(&dir).unwrap();
        let hash = registry.objects.put(b"weights").unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("registry.db")), 0o600);
        assert_eq!(mode(&dir.join("objects")), 0o700);
        assert_eq!(mode(&dir.join("objects").join(hash)), 0o600);
    }

    fn run_dir(root: &Path, id: &str, passed: bool) -> PathBuf {
        let dir = root.join(id);
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

    const ME: Change<'static> = Change {
        actor: "tester",
        why: "test",
    };

    #[test]
    fn versions_aliases_rollback_tags_and_audit() {
        let root = tempfile::tempdir().unwrap();
        let reg = Registry::open(&root.path().join(".distillery")).unwrap();
        let v1 = reg
            .register_run(&run_dir(root.path(), "r1", true), "tester", "")
            .unwrap();
        let v2 = reg
            .register_run(&run_dir(root.path(), "r2", true), "tester", "")
            .unwrap();
        assert_eq!((v1.version, v2.version), (1, 2));
        assert_eq!(
            reg.resolve(&Reference::parse("adult").unwrap())
                .unwrap()
                .version,
            2
        );
        assert_eq!(reg.load(&v1, "student").unwrap(), b"weights of r1");

        reg.promote(&v1, "production", false, &ME).unwrap();
        reg.promote(&v2, "production", false, &ME).unwrap();
        let prod = Reference::parse("adult@production").unwrap();
        assert_eq!(reg.resolve(&prod).unwrap().version, 2);
        assert_eq!(reg.rollback("adult", "production", &ME).unwrap(), (2, 1));
        assert_eq!(reg.resolve(&prod).unwrap().version, 1);

        reg.store()
            .set_tag("adult", 1, "owner", "ml-team", &ME)
            .unwrap();
        assert_eq!(
            reg.store().tags("adult", 1).unwrap(),
            [("owner".into(), "ml-team".into())]
        );
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
                "register", "register", "promote", "promote", "rollback", "tag"
            ]
        );

        let lineage = reg.lineage(&v1).unwrap();
        assert_eq!(lineage.dataset.unwrap().rows, 11);
        assert_eq!(lineage.run.unwrap().metrics["fidelity"], 0.95);
        assert_eq!(lineage.aliases, ["production"]);
        assert!(reg.verify().unwrap().is_empty());
    }

    #[test]
    fn failed_gates_need_force_and_a_reason() {
        let root = tempfile::tempdir().unwrap();
        let reg = Registry::open(&root.path().join(".distillery")).unwrap();
        let v = reg
            .register_run(&run_dir(root.path(), "r1", false), "tester", "")
            .unwrap();
        assert!(!v.gates_passed);
        let e = reg
            .promote(&v, "production", false, &ME)
            .unwrap_err()
            .to_string();
        assert!(e.contains("failed a gate") && e.contains("--force"), "{e}");
        let silent = Change {
            actor: "tester",
            why: " ",
        };
        assert!(reg.promote(&v, "production", true, &silent).is_err());
        reg.promote(&v, "production", true, &ME).unwrap();
        let last = reg.store().audit(None).unwrap().pop().unwrap();
        assert_eq!(last.action, "promote (forced)");
    }

    #[test]
    fn tampering_is_named_and_the_audit_log_cannot_be_rewritten() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join(".distillery");
        let reg = Registry::open(&dir).unwrap();
        let v = reg
            .register_run(&run_dir(root.path(), "r1", true), "tester", "")
            .unwrap();
        let obj = dir
            .join("objects")
            .join(&v.artifact("student").unwrap().hash);
        let mut bytes = std::fs::read(&obj).unwrap();
        bytes[0] ^= 1;
        std::fs::write(&obj, bytes).unwrap();
        let e = reg.load(&v, "student").unwrap_err().to_string();
        assert!(
            e.contains("artifact 'student' of adult/1 is corrupt"),
            "{e}"
        );
        assert_eq!(reg.verify().unwrap().len(), 1);
        let conn = rusqlite::Connection::open(dir.join("registry.db")).unwrap();
        let e = conn
            .execute("DELETE FROM audit", [])
            .unwrap_err()
            .to_string();
        assert!(e.contains("append-only"), "{e}");
    }

    #[test]
    fn unknown_references_say_what_exists() {
        let root = tempfile::tempdir().unwrap();
        let reg = Registry::open(&root.path().join(".distillery")).unwrap();
        let e = reg
            .resolve(&Reference::parse("adult").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty"), "{e}");
        reg.register_run(&run_dir(root.path(), "r1", true), "tester", "")
            .unwrap();
        let e = reg
            .resolve(&Reference::parse("adult/5").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("it has adult/1"), "{e}");
        let e = reg
            .resolve(&Reference::parse("adult@production").unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("promote adult/<version> --to production"), "{e}");
    }
}
