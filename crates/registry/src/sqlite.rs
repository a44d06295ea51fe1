//! The SQLite backend: one file in WAL mode, schema migrations numbered and applied on
//! open (`PRAGMA user_version`), a busy timeout so concurrent writers queue instead of
//! failing, and `BEGIN IMMEDIATE` transactions so two processes registering at once get
//! distinct versions.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::dump::Dump;
use crate::error::{RegistryError, Result};
use crate::records::{Artifact, AuditEntry, Dataset, ModelVersion, RunRecord};
use crate::signing::DetachedSignature;
use crate::store::{Change, Store};

/// Schema migrations; entry i brings the schema from version i to i + 1.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE datasets (
    fingerprint TEXT PRIMARY KEY, source TEXT NOT NULL, test_source TEXT,
    rows INTEGER NOT NULL, classes TEXT NOT NULL, checks TEXT NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, name TEXT NOT NULL, recipe_hash TEXT NOT NULL,
    seed INTEGER NOT NULL, tool_version TEXT NOT NULL, ended TEXT NOT NULL,
    seconds REAL NOT NULL, status TEXT NOT NULL,
    dataset TEXT NOT NULL REFERENCES datasets(fingerprint),
    teacher TEXT NOT NULL, metrics TEXT NOT NULL, gates TEXT NOT NULL);
CREATE TABLE versions (
    name TEXT NOT NULL, version INTEGER NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    gates_passed INTEGER NOT NULL, created TEXT NOT NULL, actor TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE artifacts (
    name TEXT NOT NULL, version INTEGER NOT NULL, role TEXT NOT NULL,
    file TEXT NOT NULL, hash TEXT NOT NULL, bytes INTEGER NOT NULL,
    PRIMARY KEY (name, version, role),
    FOREIGN KEY (name, version) REFERENCES versions(name, version));
CREATE TABLE aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES versions(name, version));
CREATE TABLE alias_history (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, alias TEXT NOT NULL,
    version INTEGER);
CREATE TABLE tags (
    name TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (name, version, key));
CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, model TEXT NOT NULL, target TEXT NOT NULL, why TEXT NOT NULL,
    details TEXT NOT NULL);
CREATE TRIGGER audit_is_append_only_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_is_append_only_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
",
    "
CREATE TABLE signatures (
    name TEXT NOT NULL, version INTEGER NOT NULL, public_key TEXT NOT NULL,
    signature TEXT NOT NULL, manifest TEXT NOT NULL, at TEXT NOT NULL,
    PRIMARY KEY (name, version, public_key),
    FOREIGN KEY (name, version) REFERENCES versions(name, version));
",
    "
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
",
];

/// The registry database.
pub struct SqliteStore {
    conn: Connection,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens (creating) the database and applies pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let db = |source| RegistryError::Database {
            path: path.to_path_buf(),
            source,
        };
        let fresh = !path.exists();
        let conn = Connection::open(path).map_err(db)?;
        if fresh {
            crate::objects::owner_only(path, 0o600);
        }
        conn.busy_timeout(Duration::from_secs(30)).map_err(db)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        let store = SqliteStore {
            conn,
            path: path.to_path_buf(),
        };
        store.migrate()?;
        Ok(store)
    }

    fn err(&self, source: rusqlite::Error) -> RegistryError {
        RegistryError::Database {
            path: self.path.clone(),
            source,
        }
    }

    fn migrate(&self) -> Result<()> {
        let tx = rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))?;
        let current: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        let current = usize::try_from(current).unwrap_or(usize::MAX);
        if current > MIGRATIONS.len() {
            return Err(RegistryError::Invalid(format!(
                "{}: schema version {current} is newer than this distillery understands ({}); upgrade distillery",
                self.path.display(),
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(current) {
            tx.execute_batch(sql).map_err(|e| self.err(e))?;
            tx.pragma_update(None, "user_version", (i + 1) as i64)
                .map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    fn transaction(&self) -> Result<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, TransactionBehavior::Immediate)
            .map_err(|e| self.err(e))
    }
}

fn audit_insert(
    tx: &rusqlite::Transaction<'_>,
    change: &Change<'_>,
    action: &str,
    model: &str,
    target: &str,
    details: &serde_json::Value,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, model, target, why, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![now(), change.actor, action, model, target, change.why, details.to_string()],
    )?;
    Ok(())
}

/// The current time, RFC 3339 UTC with milliseconds.
pub(crate) fn now() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}

/// Parses a JSON column; a value this version cannot read becomes the type's default.
fn json<T: serde::de::DeserializeOwned + Default>(s: String) -> T {
    serde_json::from_str(&s).unwrap_or_default()
}

/// Writes a dump's rows into an open transaction (the body of `restore`).
fn restore_rows(tx: &rusqlite::Transaction<'_>, d: &Dump) -> rusqlite::Result<()> {
    for (k, v) in &d.settings {
        tx.execute(
            "INSERT OR REPLACE INTO settings VALUES (?1, ?2)",
            params![k, v],
        )?;
    }
    for ds in &d.datasets {
        tx.execute(
            "INSERT INTO datasets VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                ds.fingerprint,
                ds.source,
                ds.test_source,
                ds.rows as i64,
                serde_json::to_string(&ds.classes).unwrap_or_default(),
                ds.checks.to_string()
            ],
        )?;
    }
    for r in &d.runs {
        tx.execute(
            "INSERT INTO runs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            params![
                r.run_id,
                r.name,
                r.recipe_hash,
                r.seed as i64,
                r.tool_version,
                r.ended,
                r.seconds,
                r.status,
                r.dataset,
                r.teacher,
                serde_json::to_string(&r.metrics).unwrap_or_default(),
                r.gates.to_string()
            ],
        )?;
    }
    for v in &d.versions {
        tx.execute(
            "INSERT INTO versions VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                v.name,
                v.version,
                v.run_id,
                v.gates_passed,
                v.created,
                v.actor
            ],
        )?;
        for a in &v.artifacts {
            tx.execute(
                "INSERT INTO artifacts VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![v.name, v.version, a.role, a.file, a.hash, a.bytes as i64],
            )?;
        }
    }
    for (name, alias, version) in &d.aliases {
        tx.execute(
            "INSERT INTO aliases VALUES (?1, ?2, ?3)",
            params![name, alias, version],
        )?;
    }
    for (name, alias, version) in &d.alias_history {
        tx.execute(
            "INSERT INTO alias_history (name, alias, version) VALUES (?1, ?2, ?3)",
            params![name, alias, version],
        )?;
    }
    for (name, version, key, value) in &d.tags {
        tx.execute(
            "INSERT INTO tags VALUES (?1, ?2, ?3, ?4)",
            params![name, version, key, value],
        )?;
    }
    for (model, e) in &d.audit {
        tx.execute(
            "INSERT INTO audit (at, actor, action, model, target, why, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![e.at, e.actor, e.action, model, e.target, e.why, e.details.to_string()],
        )?;
    }
    for (name, version, s, at) in &d.signatures {
        tx.execute(
            "INSERT INTO signatures VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                name,
                version,
                s.public_key,
                s.signature,
                serde_json::to_string(&s.manifest).unwrap_or_default(),
                at
            ],
        )?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))
    }

    fn put_setting_if_absent(&self, key: &str, value: &str) -> Result<String> {
        let tx = self.transaction()?;
        tx.execute(
            "INSERT OR IGNORE INTO settings VALUES (?1, ?2)",
            params![key, value],
        )
        .map_err(|e| self.err(e))?;
        let held: String = tx
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(held)
    }

    fn put_setting(&self, key: &str, value: &str, change: &Change<'_>) -> Result<()> {
        let tx = self.transaction()?;
        let inner = || -> rusqlite::Result<()> {
            tx.execute(
                "INSERT OR REPLACE INTO settings VALUES (?1, ?2)",
                params![key, value],
            )?;
            let details = serde_json::json!({ "key": key, "value": value });
            audit_insert(&tx, change, "configure", "", "registry", &details)
        };
        inner().map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn dump(&self) -> Result<Dump> {
        let mut d = Dump::default();
        self.dump_records(&mut d).map_err(|e| self.err(e))?;
        d.versions = self.versions(None)?;
        self.dump_changes(&mut d).map_err(|e| self.err(e))?;
        Ok(d)
    }

    fn restore(&self, dump: &Dump) -> Result<()> {
        let tx = self.transaction()?;
        let occupied: i64 = tx
            .query_row(
                "SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM versions) + (SELECT COUNT(*) FROM audit)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.err(e))?;
        if occupied > 0 {
            return Err(RegistryError::Invalid(format!(
                "{} already holds a registry; migrate into an empty one",
                self.path.display()
            )));
        }
        restore_rows(&tx, dump).map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn clear_alias_if(
        &self,
        name: &str,
        alias: &str,
        expected: u32,
        action: &str,
        change: &Change<'_>,
    ) -> Result<bool> {
        let tx = self.transaction()?;
        let inner = || -> rusqlite::Result<bool> {
            let current: Option<u32> = tx
                .query_row(
                    "SELECT version FROM aliases WHERE name = ?1 AND alias = ?2",
                    [name, alias],
                    |r| r.get(0),
                )
                .optional()?;
            if current != Some(expected) {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM aliases WHERE name = ?1 AND alias = ?2",
                [name, alias],
            )?;
            tx.execute(
                "INSERT INTO alias_history (name, alias, version) VALUES (?1, ?2, NULL)",
                [name, alias],
            )?;
            let details = serde_json::json!({ "from": expected, "to": null });
            audit_insert(
                &tx,
                change,
                action,
                name,
                &format!("{name}@{alias}"),
                &details,
            )?;
            Ok(true)
        };
        let cleared = inner().map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(cleared)
    }

    fn set_routing(&self, name: &str, key: &str, value: Option<&str>) -> Result<()> {
        let key = format!("routing/{name}/{key}");
        match value {
            Some(v) => self.conn.execute(
                "INSERT OR REPLACE INTO settings VALUES (?1, ?2)",
                params![key, v],
            ),
            None => self
                .conn
                .execute("DELETE FROM settings WHERE key = ?1", [key]),
        }
        .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn routing(&self, name: &str) -> Result<Vec<(String, String)>> {
        let prefix = format!("routing/{name}/");
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM settings WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")
            .map_err(|e| self.err(e))?;
        let rows: Vec<(String, String)> = stmt
            .query_map([&prefix], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .map(|(k, v)| (k.strip_prefix(&prefix).unwrap_or(&k).to_string(), v))
            .collect())
    }

    fn alias_generation(&self) -> Result<i64> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM alias_history", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.err(e))
    }

    fn put_dataset(&self, d: &Dataset) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO datasets VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    d.fingerprint,
                    d.source,
                    d.test_source,
                    d.rows as i64,
                    serde_json::to_string(&d.classes).unwrap_or_default(),
                    d.checks.to_string()
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn dataset(&self, fingerprint: &str) -> Result<Option<Dataset>> {
        self.conn
            .query_row(
                "SELECT fingerprint, source, test_source, rows, classes, checks FROM datasets WHERE fingerprint = ?1",
                [fingerprint],
                |r| {
                    Ok(Dataset {
                        fingerprint: r.get(0)?,
                        source: r.get(1)?,
                        test_source: r.get(2)?,
                        rows: r.get::<_, i64>(3)? as u64,
                        classes: json(r.get(4)?),
                        checks: json(r.get(5)?),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn put_run(&self, run: &RunRecord) -> Result<()> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO runs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    run.run_id,
                    run.name,
                    run.recipe_hash,
                    run.seed as i64,
                    run.tool_version,
                    run.ended,
                    run.seconds,
                    run.status,
                    run.dataset,
                    run.teacher,
                    serde_json::to_string(&run.metrics).unwrap_or_default(),
                    run.gates.to_string()
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        self.conn
            .query_row(
                "SELECT run_id, name, recipe_hash, seed, tool_version, ended, seconds, status, dataset, teacher, metrics, gates FROM runs WHERE run_id = ?1",
                [run_id],
                |r| {
                    Ok(RunRecord {
                        run_id: r.get(0)?,
                        name: r.get(1)?,
                        recipe_hash: r.get(2)?,
                        seed: r.get::<_, i64>(3)? as u64,
                        tool_version: r.get(4)?,
                        ended: r.get(5)?,
                        seconds: r.get(6)?,
                        status: r.get(7)?,
                        dataset: r.get(8)?,
                        teacher: r.get(9)?,
                        metrics: json(r.get(10)?),
                        gates: json(r.get(11)?),
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn create_version(
        &self,
        name: &str,
        run_id: &str,
        artifacts: &[Artifact],
        gates_passed: bool,
        change: &Change<'_>,
    ) -> Result<ModelVersion> {
        let tx = self.transaction()?;
        let inner = || -> rusqlite::Result<ModelVersion> {
            let version: u32 = tx.query_row(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE name = ?1",
                [name],
                |r| r.get(0),
            )?;
            let created = now();
            tx.execute(
                "INSERT INTO versions VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![name, version, run_id, gates_passed, created, change.actor],
            )?;
            for a in artifacts {
                tx.execute(
                    "INSERT INTO artifacts VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![name, version, a.role, a.file, a.hash, a.bytes as i64],
                )?;
            }
            let target = format!("{name}/{version}");
            let details = serde_json::json!({ "run_id": run_id, "gates_passed": gates_passed });
            audit_insert(&tx, change, "register", name, &target, &details)?;
            Ok(ModelVersion {
                name: name.into(),
                version,
                run_id: run_id.into(),
                artifacts: artifacts.to_vec(),
                gates_passed,
                created,
                actor: change.actor.into(),
            })
        };
        let v = inner().map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(v)
    }

    fn versions(&self, name: Option<&str>) -> Result<Vec<ModelVersion>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT name, version, run_id, gates_passed, created, actor FROM versions WHERE ?1 IS NULL OR name = ?1 ORDER BY name, version",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([name], |r| {
                Ok(ModelVersion {
                    name: r.get(0)?,
                    version: r.get(1)?,
                    run_id: r.get(2)?,
                    artifacts: Vec::new(),
                    gates_passed: r.get(3)?,
                    created: r.get(4)?,
                    actor: r.get(5)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        rows.into_iter()
            .map(|mut v| {
                v.artifacts = self.artifacts(&v.name, v.version)?;
                Ok(v)
            })
            .collect()
    }

    fn version(&self, name: &str, version: u32) -> Result<Option<ModelVersion>> {
        Ok(self
            .versions(Some(name))?
            .into_iter()
            .find(|v| v.version == version))
    }

    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: Option<u32>,
        action: &str,
        change: &Change<'_>,
    ) -> Result<Option<u32>> {
        let alias = crate::names::alias_name(alias)?;
        let alias = alias.as_str();
        let tx = self.transaction()?;
        let inner = || -> rusqlite::Result<Option<u32>> {
            let previous: Option<u32> = tx
                .query_row(
                    "SELECT version FROM aliases WHERE name = ?1 AND alias = ?2",
                    [name, alias],
                    |r| r.get(0),
                )
                .optional()?;
            match version {
                Some(v) => tx.execute(
                    "INSERT INTO aliases VALUES (?1, ?2, ?3) ON CONFLICT(name, alias) DO UPDATE SET version = excluded.version",
                    params![name, alias, v],
                )?,
                None => tx.execute(
                    "DELETE FROM aliases WHERE name = ?1 AND alias = ?2",
                    [name, alias],
                )?,
            };
            tx.execute(
                "INSERT INTO alias_history (name, alias, version) VALUES (?1, ?2, ?3)",
                params![name, alias, version],
            )?;
            let details = serde_json::json!({ "from": previous, "to": version });
            audit_insert(
                &tx,
                change,
                action,
                name,
                &format!("{name}@{alias}"),
                &details,
            )?;
            Ok(previous)
        };
        let previous = inner().map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))?;
        Ok(previous)
    }

    fn alias(&self, name: &str, alias: &str) -> Result<Option<u32>> {
        self.conn
            .query_row(
                "SELECT version FROM aliases WHERE name = ?1 AND alias = ?2",
                [name, alias],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn aliases(&self, name: &str) -> Result<Vec<(String, u32)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT alias, version FROM aliases WHERE name = ?1 ORDER BY alias")
            .map_err(|e| self.err(e))?;
        stmt.query_map([name], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    fn alias_history(&self, name: &str, alias: &str) -> Result<Vec<Option<u32>>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT version FROM alias_history WHERE name = ?1 AND alias = ?2 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([name, alias], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    fn set_tag(
        &self,
        name: &str,
        version: u32,
        key: &str,
        value: &str,
        change: &Change<'_>,
    ) -> Result<()> {
        let tx = self.transaction()?;
        let inner = || -> rusqlite::Result<()> {
            tx.execute(
                "INSERT INTO tags VALUES (?1, ?2, ?3, ?4) ON CONFLICT(name, version, key) DO UPDATE SET value = excluded.value",
                params![name, version, key, value],
            )?;
            let details = serde_json::json!({ "key": key, "value": value });
            audit_insert(
                &tx,
                change,
                "tag",
                name,
                &format!("{name}/{version}"),
                &details,
            )
        };
        inner().map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn tags(&self, name: &str, version: u32) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM tags WHERE name = ?1 AND version = ?2 ORDER BY key")
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![name, version], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))
    }

    fn audit(&self, name: Option<&str>) -> Result<Vec<AuditEntry>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, at, actor, action, target, why, details FROM audit WHERE ?1 IS NULL OR model = ?1 ORDER BY id",
            )
            .map_err(|e| self.err(e))?;
        stmt.query_map([name], |r| {
            Ok(AuditEntry {
                id: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                target: r.get(4)?,
                why: r.get(5)?,
                details: json(r.get(6)?),
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }

    fn add_signature(
        &self,
        name: &str,
        version: u32,
        s: &DetachedSignature,
        change: &Change<'_>,
    ) -> Result<()> {
        let tx = self.transaction()?;
        let inner = || -> rusqlite::Result<()> {
            tx.execute(
                "INSERT INTO signatures VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(name, version, public_key) DO UPDATE SET signature = excluded.signature, manifest = excluded.manifest, at = excluded.at",
                params![name, version, s.public_key, s.signature, serde_json::to_string(&s.manifest).unwrap_or_default(), now()],
            )?;
            let details = serde_json::json!({ "public_key": s.public_key });
            audit_insert(
                &tx,
                change,
                "sign",
                name,
                &format!("{name}/{version}"),
                &details,
            )
        };
        inner().map_err(|e| self.err(e))?;
        tx.commit().map_err(|e| self.err(e))
    }

    fn signatures(&self, name: &str, version: u32) -> Result<Vec<DetachedSignature>> {
        let mut stmt = self
            .conn
            .prepare("SELECT public_key, signature, manifest FROM signatures WHERE name = ?1 AND version = ?2 ORDER BY at")
            .map_err(|e| self.err(e))?;
        let rows: Vec<(String, String, String)> = stmt
            .query_map(params![name, version], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        Ok(rows
            .into_iter()
            .filter_map(|(public_key, signature, manifest)| {
                Some(DetachedSignature {
                    public_key,
                    signature,
                    manifest: serde_json::from_str(&manifest).ok()?,
                })
            })
            .collect())
    }

    fn integrity_check(&self) -> Result<Vec<String>> {
        let mut problems = Vec::new();
        let mut stmt = self
            .conn
            .prepare("PRAGMA integrity_check")
            .map_err(|e| self.err(e))?;
        let lines: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        problems.extend(lines.into_iter().filter(|l| l != "ok"));
        let mut stmt = self
            .conn
            .prepare("PRAGMA foreign_key_check")
            .map_err(|e| self.err(e))?;
        let bad: Vec<String> = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect())
            .map_err(|e| self.err(e))?;
        problems.extend(
            bad.into_iter()
                .map(|t| format!("foreign key violation in {t}")),
        );
        Ok(problems)
    }
}

impl SqliteStore {
    /// The settings, datasets, runs and signatures of a dump (the first half of `dump`).
    fn dump_records(&self, d: &mut Dump) -> rusqlite::Result<()> {
        let c = &self.conn;
        d.settings = c
            .prepare("SELECT key, value FROM settings ORDER BY key")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let fingerprints: Vec<String> = c
            .prepare("SELECT fingerprint FROM datasets ORDER BY rowid")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let runs: Vec<String> = c
            .prepare("SELECT run_id FROM runs ORDER BY rowid")?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let signed: Vec<(String, u32, String, String, String, String)> = c
            .prepare("SELECT name, version, public_key, signature, manifest, at FROM signatures ORDER BY rowid")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for f in fingerprints {
            if let Ok(Some(ds)) = self.dataset(&f) {
                d.datasets.push(ds);
            }
        }
        for id in runs {
            if let Ok(Some(run)) = self.run(&id) {
                d.runs.push(run);
            }
        }
        for (name, version, public_key, signature, manifest, at) in signed {
            if let Ok(manifest) = serde_json::from_str(&manifest) {
                let s = DetachedSignature {
                    public_key,
                    signature,
                    manifest,
                };
                d.signatures.push((name, version, s, at));
            }
        }
        Ok(())
    }

    /// Aliases, their history, tags and the audit log (the second half of `dump`).
    fn dump_changes(&self, d: &mut Dump) -> rusqlite::Result<()> {
        let c = &self.conn;
        d.aliases = c
            .prepare("SELECT name, alias, version FROM aliases ORDER BY name, alias")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        d.alias_history = c
            .prepare("SELECT name, alias, version FROM alias_history ORDER BY seq")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        d.tags = c
            .prepare("SELECT name, version, key, value FROM tags ORDER BY name, version, key")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
            .collect::<rusqlite::Result<_>>()?;
        d.audit = c
            .prepare(
                "SELECT model, id, at, actor, action, target, why, details FROM audit ORDER BY id",
            )?
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    AuditEntry {
                        id: r.get(1)?,
                        at: r.get(2)?,
                        actor: r.get(3)?,
                        action: r.get(4)?,
                        target: r.get(5)?,
                        why: r.get(6)?,
                        details: json(r.get(7)?),
                    },
                ))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(())
    }

    fn artifacts(&self, name: &str, version: u32) -> Result<Vec<Artifact>> {
        let mut stmt = self
            .conn
            .prepare("SELECT role, file, hash, bytes FROM artifacts WHERE name = ?1 AND version = ?2 ORDER BY role")
            .map_err(|e| self.err(e))?;
        stmt.query_map(params![name, version], |r| {
            Ok(Artifact {
                role: r.get(0)?,
                file: r.get(1)?,
                hash: r.get(2)?,
                bytes: r.get::<_, i64>(3)? as u64,
            })
        })
        .and_then(|rows| rows.collect())
        .map_err(|e| self.err(e))
    }
}
