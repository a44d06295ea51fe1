//! The PostgreSQL backend, for a registry that several machines share: the same tables
//! and semantics as SQLite, schema migrations numbered and applied at open, and every
//! write inside one transaction that first takes a registry-wide advisory lock, so
//! concurrent writers on any machine queue exactly as SQLite's `BEGIN IMMEDIATE` makes them
//! queue on one (two registrations get distinct versions; two promoters never interleave).
//! An alias change also sends `NOTIFY distillery_aliases`, which replicas listen for.

use std::sync::Mutex;

use postgres::{Client, NoTls, Transaction};

use crate::blocking::off_runtime;
use crate::dump::Dump;
use crate::error::{RegistryError, Result};
use crate::records::{Artifact, AuditEntry, Dataset, ModelVersion, RunRecord};
use crate::signing::DetachedSignature;
use crate::store::{Change, Store};

/// Schema migrations; entry i brings the schema from version i to i + 1.
const MIGRATIONS: &[&str] = &["
CREATE TABLE datasets (
    fingerprint TEXT PRIMARY KEY, source TEXT NOT NULL, test_source TEXT,
    rows BIGINT NOT NULL, classes TEXT NOT NULL, checks TEXT NOT NULL,
    seq BIGSERIAL NOT NULL);
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, name TEXT NOT NULL, recipe_hash TEXT NOT NULL,
    seed BIGINT NOT NULL, tool_version TEXT NOT NULL, ended TEXT NOT NULL,
    seconds DOUBLE PRECISION NOT NULL, status TEXT NOT NULL,
    dataset TEXT NOT NULL REFERENCES datasets(fingerprint),
    teacher TEXT NOT NULL, metrics TEXT NOT NULL, gates TEXT NOT NULL,
    seq BIGSERIAL NOT NULL);
CREATE TABLE versions (
    name TEXT NOT NULL, version INTEGER NOT NULL,
    run_id TEXT NOT NULL REFERENCES runs(run_id),
    gates_passed BOOLEAN NOT NULL, created TEXT NOT NULL, actor TEXT NOT NULL,
    PRIMARY KEY (name, version));
CREATE TABLE artifacts (
    name TEXT NOT NULL, version INTEGER NOT NULL, role TEXT NOT NULL,
    file TEXT NOT NULL, hash TEXT NOT NULL, bytes BIGINT NOT NULL,
    PRIMARY KEY (name, version, role),
    FOREIGN KEY (name, version) REFERENCES versions(name, version));
CREATE TABLE aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (name, alias),
    FOREIGN KEY (name, version) REFERENCES versions(name, version));
CREATE TABLE alias_history (
    seq BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER);
CREATE TABLE tags (
    name TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (name, version, key));
CREATE TABLE audit (
    id BIGSERIAL PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL,
    action TEXT NOT NULL, model TEXT NOT NULL, target TEXT NOT NULL, why TEXT NOT NULL,
    details TEXT NOT NULL);
CREATE FUNCTION distillery_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$;
CREATE TRIGGER audit_is_append_only BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION distillery_audit_is_append_only();
CREATE TRIGGER audit_is_never_truncated BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION distillery_audit_is_append_only();
CREATE TABLE signatures (
    name TEXT NOT NULL, version INTEGER NOT NULL, public_key TEXT NOT NULL,
    signature TEXT NOT NULL, manifest TEXT NOT NULL, at TEXT NOT NULL,
    seq BIGSERIAL NOT NULL,
    PRIMARY KEY (name, version, public_key),
    FOREIGN KEY (name, version) REFERENCES versions(name, version));
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"];

/// The advisory-lock key every registry write takes ("distreg" in ASCII): one writer at a
/// time across all machines, like SQLite's single writer.
const WRITE_LOCK: i64 = 0x0064_6973_7472_6567;

/// The channel an alias change is announced on.
pub const ALIAS_CHANNEL: &str = "distillery_aliases";

/// A registry database on a PostgreSQL server.
pub struct PostgresStore {
    /// Always `Some` until drop, which takes it out to close it off any async runtime.
    client: Mutex<Option<Client>>,
    /// The URL without its password, for messages.
    shown: String,
}

/// `postgres://user:secret@host/db` with the password replaced, so errors and listings
/// never print it.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let tail = match tail.split_once("password=") {
        Some((before, after)) => {
            let rest = after.find('&').map_or("", |i| &after[i..]);
            format!("{before}password=***{rest}")
        }
        None => tail.to_string(),
    };
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => format!("{scheme}://{authority}{tail}"),
    }
}

impl PostgresStore {
    /// Connects and applies pending migrations (under the write lock, so replicas starting
    /// together migrate once).
    pub fn open(url: &str) -> Result<PostgresStore> {
        let shown = redact(url);
        let client = off_runtime(|| Client::connect(url, NoTls)).map_err(|source| {
            RegistryError::Postgres {
                url: shown.clone(),
                source,
            }
        })?;
        let store = PostgresStore {
            client: Mutex::new(Some(client)),
            shown,
        };
        store.migrate()?;
        Ok(store)
    }

    /// The redacted URL.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    fn err(&self, source: postgres::Error) -> RegistryError {
        RegistryError::Postgres {
            url: self.shown.clone(),
            source,
        }
    }

    /// Runs `f` with the client (outside any async runtime).
    fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> std::result::Result<T, postgres::Error> + Send,
    ) -> Result<T> {
        let mut client = self
            .client
            .lock()
            .map_err(|_| RegistryError::Invalid("the registry connection was poisoned".into()))?;
        let Some(client) = client.as_mut() else {
            return Err(RegistryError::Invalid(
                "the registry connection is closed".into(),
            ));
        };
        off_runtime(move || f(client)).map_err(|e| self.err(e))
    }

    /// Runs `f` in a transaction that holds the registry-wide write lock, and commits.
    fn write<T: Send>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> std::result::Result<T, postgres::Error> + Send,
    ) -> Result<T> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
            let v = f(&mut tx)?;
            tx.commit()?;
            Ok(v)
        })
    }

    /// The schema version the database is at (0: nothing created yet).
    fn schema_version(
        c: &mut impl postgres::GenericClient,
    ) -> std::result::Result<i32, postgres::Error> {
        let exists: bool = c
            // A catalog query, read under the statement's snapshot: `to_regclass` may answer
            // from a stale cache and miss a table another session has just created.
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = 'schema_version')",
                &[],
            )?
            .get(0);
        if !exists {
            return Ok(0);
        }
        let row = c.query_opt("SELECT version FROM schema_version", &[])?;
        Ok(row.map_or(0, |r| r.get(0)))
    }

    fn migrate(&self) -> Result<()> {
        let newest = MIGRATIONS.len() as i32;
        // The usual case, an up-to-date schema, is a read: no lock, no write at every open.
        let mut current = self.with(PostgresStore::schema_version)?;
        if current < newest {
            current = self.write(|tx| {
                // Another process may have migrated while this one waited for the lock.
                let current = PostgresStore::schema_version(tx)?;
                if current >= newest {
                    return Ok(current);
                }
                if current == 0 {
                    tx.batch_execute(
                        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
                    )?;
                }
                for sql in MIGRATIONS.iter().skip(current as usize) {
                    tx.batch_execute(sql)?;
                }
                tx.execute("DELETE FROM schema_version", &[])?;
                tx.execute("INSERT INTO schema_version VALUES ($1)", &[&newest])?;
                Ok(newest)
            })?;
        }
        if current > newest {
            return Err(RegistryError::Invalid(format!(
                "{}: schema version {current} is newer than this distillery understands ({newest}); upgrade distillery",
                self.shown
            )));
        }
        Ok(())
    }

    fn artifacts_of(
        c: &mut Client,
        name: Option<&str>,
    ) -> std::result::Result<Vec<(String, u32, Artifact)>, postgres::Error> {
        Ok(c
            .query(
                "SELECT name, version, role, file, hash, bytes FROM artifacts WHERE $1::TEXT IS NULL OR name = $1 ORDER BY name, version, role",
                &[&name],
            )?
            .iter()
            .map(|r| {
                (
                    r.get(0),
                    version(r.get(1)),
                    Artifact {
                        role: r.get(2),
                        file: r.get(3),
                        hash: r.get(4),
                        bytes: r.get::<_, i64>(5) as u64,
                    },
                )
            })
            .collect())
    }
}

/// Listens for alias changes on `url` (`LISTEN distillery_aliases`) on a thread of its
/// own and calls `wake` for each, so a replica applies a promotion within milliseconds
/// rather than at its next poll. A lost connection is retried every few seconds; polling
/// covers the gap.
pub(crate) fn listen_for_alias_changes(url: String, wake: Box<dyn Fn() + Send>) {
    let spawned = std::thread::Builder::new()
        .name("alias-listener".into())
        .spawn(move || {
            loop {
                if let Err(e) = listen_once(&url, wake.as_ref()) {
                    warn_listener_lost(&redact(&url), &e);
                }
                std::thread::sleep(std::time::Duration::from_secs(3));
            }
        });
    if let Err(e) = spawned {
        eprintln!("could not start the alias listener: {e}");
    }
}

/// One connection's worth of listening: returns when the connection fails.
fn listen_once(url: &str, wake: &dyn Fn()) -> std::result::Result<(), postgres::Error> {
    let mut client = Client::connect(url, NoTls)?;
    client.batch_execute(&format!("LISTEN {ALIAS_CHANNEL}"))?;
    // A change made while we were not listening: catch up once on (re)connect.
    wake();
    let mut notifications = client.notifications();
    let mut iter = notifications.blocking_iter();
    loop {
        match postgres::fallible_iterator::FallibleIterator::next(&mut iter)? {
            Some(_) => wake(),
            None => return Ok(()),
        }
    }
}

/// The listener has no logger of its own (the registry crate does not log); the message
/// goes to standard error, which the server's supervisor collects.
fn warn_listener_lost(url: &str, e: &postgres::Error) {
    eprintln!("alias listener on {url}: {e}; retrying, polling meanwhile");
}

impl Drop for PostgresStore {
    /// Closing the connection blocks on the client's own runtime, which an async runtime
    /// (the server) refuses on its threads: close it on a helper thread there.
    fn drop(&mut self) {
        let client = self
            .client
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        off_runtime(move || drop(client));
    }
}

/// A stored version number (INTEGER) as the registry's `u32`.
fn version(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// A registry version number as an INTEGER parameter.
fn int(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Parses a JSON column; a value this version cannot read becomes the type's default.
fn json<T: serde::de::DeserializeOwned + Default>(s: &str) -> T {
    serde_json::from_str(s).unwrap_or_default()
}

fn audit_insert(
    tx: &mut Transaction<'_>,
    change: &Change<'_>,
    action: &str,
    model: &str,
    target: &str,
    details: &serde_json::Value,
) -> std::result::Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO audit (at, actor, action, model, target, why, details) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[&crate::sqlite::now(), &change.actor, &action, &model, &target, &change.why, &details.to_string()],
    )?;
    Ok(())
}

fn dataset_row(r: &postgres::Row) -> Dataset {
    Dataset {
        fingerprint: r.get(0),
        source: r.get(1),
        test_source: r.get(2),
        rows: r.get::<_, i64>(3) as u64,
        classes: json(r.get(4)),
        checks: json(r.get(5)),
    }
}

fn run_row(r: &postgres::Row) -> RunRecord {
    RunRecord {
        run_id: r.get(0),
        name: r.get(1),
        recipe_hash: r.get(2),
        seed: r.get::<_, i64>(3) as u64,
        tool_version: r.get(4),
        ended: r.get(5),
        seconds: r.get(6),
        status: r.get(7),
        dataset: r.get(8),
        teacher: r.get(9),
        metrics: json(r.get(10)),
        gates: json(r.get(11)),
    }
}

fn audit_row(r: &postgres::Row) -> AuditEntry {
    AuditEntry {
        id: r.get(0),
        at: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        target: r.get(4),
        why: r.get(5),
        details: json(r.get(6)),
    }
}

const DATASET_COLUMNS: &str = "fingerprint, source, test_source, rows, classes, checks";
const RUN_COLUMNS: &str = "run_id, name, recipe_hash, seed, tool_version, ended, seconds, status, dataset, teacher, metrics, gates";

fn insert_dataset(
    c: &mut impl postgres::GenericClient,
    d: &Dataset,
    conflict: &str,
) -> std::result::Result<(), postgres::Error> {
    c.execute(
        &format!(
            "INSERT INTO datasets ({DATASET_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) {conflict}"
        ),
        &[
            &d.fingerprint,
            &d.source,
            &d.test_source,
            &(d.rows as i64),
            &serde_json::to_string(&d.classes).unwrap_or_default(),
            &d.checks.to_string(),
        ],
    )?;
    Ok(())
}

fn insert_run(
    c: &mut impl postgres::GenericClient,
    r: &RunRecord,
    conflict: &str,
) -> std::result::Result<(), postgres::Error> {
    c.execute(
        &format!("INSERT INTO runs ({RUN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) {conflict}"),
        &[
            &r.run_id,
            &r.name,
            &r.recipe_hash,
            &(r.seed as i64),
            &r.tool_version,
            &r.ended,
            &r.seconds,
            &r.status,
            &r.dataset,
            &r.teacher,
            &serde_json::to_string(&r.metrics).unwrap_or_default(),
            &r.gates.to_string(),
        ],
    )?;
    Ok(())
}

fn insert_version(
    tx: &mut Transaction<'_>,
    v: &ModelVersion,
) -> std::result::Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO versions VALUES ($1, $2, $3, $4, $5, $6)",
        &[
            &v.name,
            &int(v.version),
            &v.run_id,
            &v.gates_passed,
            &v.created,
            &v.actor,
        ],
    )?;
    for a in &v.artifacts {
        tx.execute(
            "INSERT INTO artifacts VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &v.name,
                &int(v.version),
                &a.role,
                &a.file,
                &a.hash,
                &(a.bytes as i64),
            ],
        )?;
    }
    Ok(())
}

fn insert_signature(
    tx: &mut Transaction<'_>,
    name: &str,
    v: u32,
    s: &DetachedSignature,
    at: &str,
) -> std::result::Result<(), postgres::Error> {
    tx.execute(
        "INSERT INTO signatures (name, version, public_key, signature, manifest, at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name, version, public_key) DO UPDATE SET signature = excluded.signature, manifest = excluded.manifest, at = excluded.at",
        &[&name, &int(v), &s.public_key, &s.signature, &serde_json::to_string(&s.manifest).unwrap_or_default(), &at],
    )?;
    Ok(())
}

/// Writes a dump's rows into an open transaction (the body of `restore`).
fn restore_rows(tx: &mut Transaction<'_>, d: &Dump) -> std::result::Result<(), postgres::Error> {
    for (k, v) in &d.settings {
        tx.execute(
            "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[k, v],
        )?;
    }
    for ds in &d.datasets {
        insert_dataset(tx, ds, "")?;
    }
    for r in &d.runs {
        insert_run(tx, r, "")?;
    }
    for v in &d.versions {
        insert_version(tx, v)?;
    }
    for (name, alias, v) in &d.aliases {
        tx.execute(
            "INSERT INTO aliases VALUES ($1, $2, $3)",
            &[name, alias, &int(*v)],
        )?;
    }
    for (name, alias, v) in &d.alias_history {
        tx.execute(
            "INSERT INTO alias_history (name, alias, version) VALUES ($1, $2, $3)",
            &[name, alias, &v.map(int)],
        )?;
    }
    for (name, v, key, value) in &d.tags {
        tx.execute(
            "INSERT INTO tags VALUES ($1, $2, $3, $4)",
            &[name, &int(*v), key, value],
        )?;
    }
    for (model, e) in &d.audit {
        tx.execute(
            "INSERT INTO audit (at, actor, action, model, target, why, details) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&e.at, &e.actor, &e.action, model, &e.target, &e.why, &e.details.to_string()],
        )?;
    }
    for (name, v, s, at) in &d.signatures {
        insert_signature(tx, name, *v, s, at)?;
    }
    Ok(())
}

impl Store for PostgresStore {
    fn put_dataset(&self, d: &Dataset) -> Result<()> {
        self.write(|tx| insert_dataset(tx, d, "ON CONFLICT (fingerprint) DO NOTHING"))
    }

    fn dataset(&self, fingerprint: &str) -> Result<Option<Dataset>> {
        self.with(|c| {
            let row = c.query_opt(
                &format!("SELECT {DATASET_COLUMNS} FROM datasets WHERE fingerprint = $1"),
                &[&fingerprint],
            )?;
            Ok(row.as_ref().map(dataset_row))
        })
    }

    fn put_run(&self, r: &RunRecord) -> Result<()> {
        self.write(|tx| insert_run(tx, r, "ON CONFLICT (run_id) DO NOTHING"))
    }

    fn run(&self, run_id: &str) -> Result<Option<RunRecord>> {
        self.with(|c| {
            let row = c.query_opt(
                &format!("SELECT {RUN_COLUMNS} FROM runs WHERE run_id = $1"),
                &[&run_id],
            )?;
            Ok(row.as_ref().map(run_row))
        })
    }

    fn create_version(
        &self,
        name: &str,
        run_id: &str,
        artifacts: &[Artifact],
        gates_passed: bool,
        change: &Change<'_>,
    ) -> Result<ModelVersion> {
        self.write(|tx| {
            let next: i32 = tx
                .query_one(
                    "SELECT COALESCE(MAX(version), 0) + 1 FROM versions WHERE name = $1",
                    &[&name],
                )?
                .get(0);
            let v = ModelVersion {
                name: name.into(),
                version: version(next),
                run_id: run_id.into(),
                artifacts: artifacts.to_vec(),
                gates_passed,
                created: crate::sqlite::now(),
                actor: change.actor.into(),
            };
            insert_version(tx, &v)?;
            let details = serde_json::json!({ "run_id": run_id, "gates_passed": gates_passed });
            audit_insert(tx, change, "register", name, &v.label(), &details)?;
            Ok(v)
        })
    }

    fn versions(&self, name: Option<&str>) -> Result<Vec<ModelVersion>> {
        self.with(|c| {
            let mut artifacts: std::collections::HashMap<(String, u32), Vec<Artifact>> =
                std::collections::HashMap::new();
            for (n, v, a) in PostgresStore::artifacts_of(c, name)? {
                artifacts.entry((n, v)).or_default().push(a);
            }
            let rows = c.query(
                "SELECT name, version, run_id, gates_passed, created, actor FROM versions WHERE $1::TEXT IS NULL OR name = $1 ORDER BY name, version",
                &[&name],
            )?;
            let mut out = Vec::with_capacity(rows.len());
            for r in &rows {
                let name: String = r.get(0);
                let number = version(r.get(1));
                let v = ModelVersion {
                    artifacts: artifacts.remove(&(name.clone(), number)).unwrap_or_default(),
                    name,
                    version: number,
                    run_id: r.get(2),
                    gates_passed: r.get(3),
                    created: r.get(4),
                    actor: r.get(5),
                };
                out.push(v);
            }
            Ok(out)
        })
    }

    fn version(&self, name: &str, v: u32) -> Result<Option<ModelVersion>> {
        Ok(self
            .versions(Some(name))?
            .into_iter()
            .find(|x| x.version == v))
    }

    fn set_alias(
        &self,
        name: &str,
        alias: &str,
        v: Option<u32>,
        action: &str,
        change: &Change<'_>,
    ) -> Result<Option<u32>> {
        let alias = crate::names::alias_name(alias)?;
        let alias = alias.as_str();
        self.write(|tx| {
            let previous: Option<u32> = tx
                .query_opt(
                    "SELECT version FROM aliases WHERE name = $1 AND alias = $2",
                    &[&name, &alias],
                )?
                .map(|r| version(r.get(0)));
            match v {
                Some(v) => tx.execute(
                    "INSERT INTO aliases VALUES ($1, $2, $3) ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
                    &[&name, &alias, &int(v)],
                )?,
                None => tx.execute(
                    "DELETE FROM aliases WHERE name = $1 AND alias = $2",
                    &[&name, &alias],
                )?,
            };
            tx.execute(
                "INSERT INTO alias_history (name, alias, version) VALUES ($1, $2, $3)",
                &[&name, &alias, &v.map(int)],
            )?;
            let details = serde_json::json!({ "from": previous, "to": v });
            audit_insert(tx, change, action, name, &format!("{name}@{alias}"), &details)?;
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&ALIAS_CHANNEL, &format!("{name}@{alias}")],
            )?;
            Ok(previous)
        })
    }

    fn alias(&self, name: &str, alias: &str) -> Result<Option<u32>> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT version FROM aliases WHERE name = $1 AND alias = $2",
                &[&name, &alias],
            )?
            .map(|r| version(r.get(0))))
        })
    }

    fn aliases(&self, name: &str) -> Result<Vec<(String, u32)>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT alias, version FROM aliases WHERE name = $1 ORDER BY alias",
                &[&name],
            )?
            .iter()
            .map(|r| (r.get(0), version(r.get(1))))
            .collect())
        })
    }

    fn alias_history(&self, name: &str, alias: &str) -> Result<Vec<Option<u32>>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT version FROM alias_history WHERE name = $1 AND alias = $2 ORDER BY seq",
                &[&name, &alias],
            )?
            .iter()
            .map(|r| r.get::<_, Option<i32>>(0).map(version))
            .collect())
        })
    }

    fn set_tag(
        &self,
        name: &str,
        v: u32,
        key: &str,
        value: &str,
        change: &Change<'_>,
    ) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO tags VALUES ($1, $2, $3, $4) ON CONFLICT (name, version, key) DO UPDATE SET value = excluded.value",
                &[&name, &int(v), &key, &value],
            )?;
            let details = serde_json::json!({ "key": key, "value": value });
            audit_insert(tx, change, "tag", name, &format!("{name}/{v}"), &details)
        })
    }

    fn tags(&self, name: &str, v: u32) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT key, value FROM tags WHERE name = $1 AND version = $2 ORDER BY key",
                &[&name, &int(v)],
            )?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
        })
    }

    fn audit(&self, name: Option<&str>) -> Result<Vec<AuditEntry>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT id, at, actor, action, target, why, details FROM audit WHERE $1::TEXT IS NULL OR model = $1 ORDER BY id",
                &[&name],
            )?
            .iter()
            .map(audit_row)
            .collect())
        })
    }

    fn add_signature(
        &self,
        name: &str,
        v: u32,
        s: &DetachedSignature,
        change: &Change<'_>,
    ) -> Result<()> {
        self.write(|tx| {
            insert_signature(tx, name, v, s, &crate::sqlite::now())?;
            let details = serde_json::json!({ "public_key": s.public_key });
            audit_insert(tx, change, "sign", name, &format!("{name}/{v}"), &details)
        })
    }

    fn signatures(&self, name: &str, v: u32) -> Result<Vec<DetachedSignature>> {
        self.with(|c| {
            Ok(c.query(
                "SELECT public_key, signature, manifest FROM signatures WHERE name = $1 AND version = $2 ORDER BY at, seq",
                &[&name, &int(v)],
            )?
            .iter()
            .filter_map(|r| {
                Some(DetachedSignature {
                    public_key: r.get(0),
                    signature: r.get(1),
                    manifest: serde_json::from_str(r.get::<_, &str>(2)).ok()?,
                })
            })
            .collect())
        })
    }

    fn integrity_check(&self) -> Result<Vec<String>> {
        // PostgreSQL enforces the foreign keys and checksums its own pages; what is left to
        // check is that the schema is the one this version writes.
        let newest = MIGRATIONS.len() as i32;
        let at: i32 = self.with(|c| {
            Ok(c.query_one("SELECT version FROM schema_version", &[])?
                .get(0))
        })?;
        Ok(if at == newest {
            Vec::new()
        } else {
            vec![format!("schema version {at}, expected {newest}")]
        })
    }

    fn setting(&self, key: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(
                c.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn put_setting_if_absent(&self, key: &str, value: &str) -> Result<String> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                &[&key, &value],
            )?;
            Ok(tx
                .query_one("SELECT value FROM settings WHERE key = $1", &[&key])?
                .get(0))
        })
    }

    fn put_setting(&self, key: &str, value: &str, change: &Change<'_>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                &[&key, &value],
            )?;
            let details = serde_json::json!({ "key": key, "value": value });
            audit_insert(tx, change, "configure", "", "registry", &details)
        })
    }

    fn dump(&self) -> Result<Dump> {
        let mut d = Dump {
            versions: self.versions(None)?,
            ..Dump::default()
        };
        self.with(|c| {
            d.settings = c
                .query("SELECT key, value FROM settings ORDER BY key", &[])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            d.datasets = c
                .query(&format!("SELECT {DATASET_COLUMNS} FROM datasets ORDER BY seq"), &[])?
                .iter()
                .map(dataset_row)
                .collect();
            d.runs = c
                .query(&format!("SELECT {RUN_COLUMNS} FROM runs ORDER BY seq"), &[])?
                .iter()
                .map(run_row)
                .collect();
            d.aliases = c
                .query("SELECT name, alias, version FROM aliases ORDER BY name, alias", &[])?
                .iter()
                .map(|r| (r.get(0), r.get(1), version(r.get(2))))
                .collect();
            d.alias_history = c
                .query("SELECT name, alias, version FROM alias_history ORDER BY seq", &[])?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get::<_, Option<i32>>(2).map(version)))
                .collect();
            d.tags = c
                .query("SELECT name, version, key, value FROM tags ORDER BY name, version, key", &[])?
                .iter()
                .map(|r| (r.get(0), version(r.get(1)), r.get(2), r.get(3)))
                .collect();
            d.audit = c
                .query("SELECT id, at, actor, action, target, why, details, model FROM audit ORDER BY id", &[])?
                .iter()
                .map(|r| (r.get(7), audit_row(r)))
                .collect();
            d.signatures = c
                .query("SELECT name, version, public_key, signature, manifest, at FROM signatures ORDER BY seq", &[])?
                .iter()
                .filter_map(|r| {
                    let s = DetachedSignature {
                        public_key: r.get(2),
                        signature: r.get(3),
                        manifest: serde_json::from_str(r.get::<_, &str>(4)).ok()?,
                    };
                    Some((r.get(0), version(r.get(1)), s, r.get(5)))
                })
                .collect();
            Ok(())
        })?;
        Ok(d)
    }

    fn restore(&self, dump: &Dump) -> Result<()> {
        let occupied = self.write(|tx| {
            let n: i64 = tx
                .query_one(
                    "SELECT (SELECT COUNT(*) FROM datasets) + (SELECT COUNT(*) FROM runs) + (SELECT COUNT(*) FROM versions) + (SELECT COUNT(*) FROM audit)",
                    &[],
                )?
                .get(0);
            if n == 0 {
                restore_rows(tx, dump)?;
            }
            Ok(n > 0)
        })?;
        if occupied {
            return Err(RegistryError::Invalid(format!(
                "{} already holds a registry; migrate into an empty one",
                self.shown
            )));
        }
        Ok(())
    }

    fn clear_alias_if(
        &self,
        name: &str,
        alias: &str,
        expected: u32,
        action: &str,
        change: &Change<'_>,
    ) -> Result<bool> {
        self.write(|tx| {
            let current: Option<u32> = tx
                .query_opt(
                    "SELECT version FROM aliases WHERE name = $1 AND alias = $2",
                    &[&name, &alias],
                )?
                .map(|r| version(r.get(0)));
            if current != Some(expected) {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM aliases WHERE name = $1 AND alias = $2",
                &[&name, &alias],
            )?;
            tx.execute(
                "INSERT INTO alias_history (name, alias, version) VALUES ($1, $2, NULL)",
                &[&name, &alias],
            )?;
            let details = serde_json::json!({ "from": expected, "to": null });
            audit_insert(
                tx,
                change,
                action,
                name,
                &format!("{name}@{alias}"),
                &details,
            )?;
            tx.execute(
                "SELECT pg_notify($1, $2)",
                &[&ALIAS_CHANNEL, &format!("{name}@{alias}")],
            )?;
            Ok(true)
        })
    }

    fn set_routing(&self, name: &str, key: &str, value: Option<&str>) -> Result<()> {
        let key = format!("routing/{name}/{key}");
        self.write(|tx| {
            match value {
                Some(v) => tx.execute(
                    "INSERT INTO settings VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &[&key, &v],
                )?,
                None => tx.execute("DELETE FROM settings WHERE key = $1", &[&key])?,
            };
            Ok(())
        })
    }

    fn routing(&self, name: &str) -> Result<Vec<(String, String)>> {
        let prefix = format!("routing/{name}/");
        self.with(|c| {
            Ok(c.query(
                "SELECT key, value FROM settings WHERE starts_with(key, $1) ORDER BY key",
                &[&prefix],
            )?
            .iter()
            .map(|r| {
                let k: &str = r.get(0);
                (k.strip_prefix(&prefix).unwrap_or(k).to_string(), r.get(1))
            })
            .collect())
        })
    }

    fn alias_generation(&self) -> Result<i64> {
        self.with(|c| {
            Ok(
                c.query_one("SELECT COALESCE(MAX(seq), 0) FROM alias_history", &[])?
                    .get(0),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("postgres://app:s3cret@db.internal:5432/models"),
            "postgres://app:***@db.internal:5432/models"
        );
        assert_eq!(
            redact("postgresql://app@localhost/models"),
            "postgresql://app@localhost/models"
        );
        assert_eq!(redact("postgres://localhost/db"), "postgres://localhost/db");
        assert_eq!(
            redact("postgres://localhost/db?user=a&password=b&sslmode=disable"),
            "postgres://localhost/db?user=a&password=***&sslmode=disable"
        );
    }
}
