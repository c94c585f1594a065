//! A private PostgreSQL cluster for one test ([`PgServer`]: `initdb` in a temporary
//! directory, a server listening only on a Unix socket there, stopped on drop), and
//! [`load_original_fixture`], which copies an original Librarian's SQLite catalog
//! into a database of it (the original's PostgreSQL schema, then every row).

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::process::Command;

use postgres::types::ToSql;
use postgres::{Client, NoTls};

use crate::{run, skip};

/// The checked-in PostgreSQL DDL of the original's schema (alembic head 84785333a677).
pub const ORIGINAL_SCHEMA: &str = include_str!("../fixtures/original-postgres/schema.sql");

/// The tables of the original's schema, parents before the tables that refer to them.
const TABLES_IN_FK_ORDER: [&str; 14] = [
    "alembic_version",
    "files",
    "store_metadata",
    "librarians",
    "users",
    "send_queue",
    "instances",
    "incoming_transfers",
    "outgoing_transfers",
    "clone_transfers",
    "remote_instances",
    "errors",
    "corrupt_files",
    "completed_transfers",
];

/// The superuser `initdb` makes (no password: `-A trust`, on a socket in this test's
/// private directory, mode 0700).
const SUPERUSER: &str = "libtest";

/// A PostgreSQL cluster of one test, stopped (`-m immediate`) and deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    /// As root, the `runuser` that runs PostgreSQL's tools as `postgres` (`initdb`
    /// refuses root).
    runuser: Option<PathBuf>,
}

impl PgServer {
    /// Start a cluster, or report (see [`skip`]) why not and give `None`: no
    /// PostgreSQL binaries (`$LIBRARIAN_TEST_PG_BINDIR`, else the newest
    /// `/usr/lib/postgresql/*/bin`), or, as root, no `postgres` user or `runuser`.
    pub fn start() -> Option<PgServer> {
        let Some(bin) = pg_bindir() else {
            skip("PostgreSQL's initdb is not installed (apt-get install postgresql, or set LIBRARIAN_TEST_PG_BINDIR)");
            return None;
        };
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        // A short path: the socket's path (<dir>/.s.PGSQL.5432) must stay under 108 bytes.
        let dir = tempfile::Builder::new().prefix("lpg").tempdir_in("/tmp").expect("temp dir for PostgreSQL");
        let mut runuser = None;
        if root {
            let Some((uid, gid)) = postgres_user() else {
                skip("running as root, but there is no `postgres` user to run PostgreSQL as");
                return None;
            };
            let Some(path) = ["/usr/sbin/runuser", "/sbin/runuser"].iter().map(PathBuf::from).find(|p| p.is_file())
            else {
                skip("running as root, but there is no runuser (util-linux) to run PostgreSQL as `postgres`");
                return None;
            };
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).expect("chown the PostgreSQL dir");
            runuser = Some(path);
        }
        let server = PgServer { dir, bin, runuser };
        let data = server.data_dir();
        server.pg_command("initdb", |c| {
            c.arg("-D").arg(&data).args(["-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C.UTF-8", "-N"]);
        });
        let options = format!(
            "-k {} -c listen_addresses= -c fsync=off -c shared_buffers=16MB -c max_connections=20",
            server.dir.path().display()
        );
        server.pg_command("pg_ctl", |c| {
            c.arg("-D").arg(&data).arg("-l").arg(server.dir.path().join("log"));
            c.args(["-w", "-t", "60", "-o", &options, "start"]);
        });
        Some(server)
    }

    /// The socket directory (the server's `-k`).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A URL of database `db` on this server, as the superuser, over the socket.
    pub fn url(&self, db: &str) -> String {
        format!("postgresql:///{db}?host={}&user={SUPERUSER}", self.dir.path().display())
    }

    /// A client of database `db`.
    pub fn client(&self, db: &str) -> Client {
        Client::connect(&self.url(db), NoTls).unwrap_or_else(|e| panic!("connect to {}: {e:?}", self.url(db)))
    }

    /// Create the database `name`.
    pub fn create_db(&self, name: &str) {
        let mut admin = self.client("postgres");
        admin.batch_execute(&format!("CREATE DATABASE {}", ident(name))).expect("CREATE DATABASE");
    }

    /// Make `role` log in with a password (SCRAM) instead of `trust`: a line before
    /// the others in `pg_hba.conf`, then a reload, waited for (a connection of `role`
    /// without a password is refused).
    pub fn require_password(&self, role: &str) {
        let hba = self.data_dir().join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).expect("read pg_hba.conf");
        std::fs::write(&hba, format!("local all {role} scram-sha-256\n{rules}")).expect("write pg_hba.conf");
        self.client("postgres").batch_execute("SELECT pg_reload_conf()").expect("reload");
        let url = format!("postgresql:///postgres?host={}&user={role}", self.dir.path().display());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while Client::connect(&url, NoTls).is_ok() {
            assert!(std::time::Instant::now() < deadline, "pg_hba.conf not reloaded after 10 s");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The server's log (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Run PostgreSQL's `tool` (as `postgres` when we are root), panicking on failure.
    fn pg_command(&self, tool: &str, args: impl FnOnce(&mut Command)) {
        let mut c = self.tool(tool);
        args(&mut c);
        let out = run(&mut c);
        assert!(
            out.status.success(),
            "{c:?} failed ({}):\n{}\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.log()
        );
    }

    fn tool(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        let mut c = if let Some(runuser) = &self.runuser {
            let mut c = Command::new(runuser);
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        };
        // Nothing of the caller's PostgreSQL settings leaks in.
        for var in ["PGDATA", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS"] {
            c.env_remove(var);
        }
        c.current_dir(self.dir.path()).stdin(std::process::Stdio::null());
        c
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let mut c = self.tool("pg_ctl");
        c.arg("-D").arg(self.data_dir()).args(["-m", "immediate", "-w", "stop"]);
        // Best effort: a server that is already gone leaves nothing to stop.
        let _ = c.output();
    }
}

/// `$LIBRARIAN_TEST_PG_BINDIR`, else the newest `/usr/lib/postgresql/<version>/bin`
/// that holds `initdb`.
fn pg_bindir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("LIBRARIAN_TEST_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        return dir.join("initdb").is_file().then_some(dir);
    }
    let mut found: Vec<(Vec<u64>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.split('.').map(|p| p.parse().ok()).collect::<Option<Vec<u64>>>()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

/// The uid and gid of the `postgres` user.
fn postgres_user() -> Option<(u32, u32)> {
    let name = CString::new("postgres").ok()?;
    // SAFETY: a NUL-terminated name; the result, static storage, is read at once
    // (each test runs in its own process: nothing else calls getpwnam meanwhile).
    let pw = unsafe { libc::getpwnam(name.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: non-null, so it points at a valid passwd entry.
    let pw = unsafe { &*pw };
    Some((pw.pw_uid, pw.pw_gid))
}

/// `name` quoted as an SQL identifier.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Create database `db` on `pg` holding the original's schema ([`ORIGINAL_SCHEMA`])
/// and every row of every table of the original SQLite catalog `sqlite`, as the
/// original's PostgreSQL deployment would hold them: booleans, timestamps and enum
/// members as such (each value cast from its SQLite text to its column's type), blobs
/// as bytea; then each serial sequence moved past the largest id, as after inserts.
pub fn load_original_fixture(pg: &PgServer, db: &str, sqlite: &Path) {
    pg.create_db(db);
    let mut client = pg.client(db);
    client.batch_execute(ORIGINAL_SCHEMA).expect("load the original's PostgreSQL schema");
    let source = rusqlite::Connection::open_with_flags(sqlite, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", sqlite.display()));
    let sqlite_tables: Vec<String> = source
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("list the SQLite tables");
    for t in &sqlite_tables {
        assert!(
            TABLES_IN_FK_ORDER.contains(&t.as_str()),
            "{}: table {t} is not in the original's schema",
            sqlite.display()
        );
    }
    let mut tx = client.transaction().expect("begin");
    for table in TABLES_IN_FK_ORDER.iter().filter(|t| sqlite_tables.iter().any(|s| s == *t)) {
        copy_table(&source, &mut tx, table);
    }
    let serials = tx
        .query(
            "SELECT CAST(table_name AS TEXT), CAST(column_name AS TEXT) FROM information_schema.columns
             WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'",
            &[],
        )
        .expect("list the serial columns");
    for row in serials {
        let (table, column): (String, String) = (row.get(0), row.get(1));
        tx.query_one(
            &format!(
                "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE(MAX({c}), 1), MAX({c}) IS NOT NULL) FROM {t}",
                c = ident(&column),
                t = ident(&table)
            ),
            &[&table, &column],
        )
        .unwrap_or_else(|e| panic!("setval of {table}.{column}: {e:?}"));
    }
    tx.commit().expect("commit the fixture");
}

/// Copy every row of `table` from the SQLite catalog into PostgreSQL.
fn copy_table(source: &rusqlite::Connection, tx: &mut postgres::Transaction<'_>, table: &str) {
    use rusqlite::types::ValueRef;

    // The PostgreSQL column types (without lengths: a cast to varchar(n) would
    // truncate silently, the insert into the column refuses a longer value).
    let pg_columns: Vec<(String, String)> = tx
        .query(
            "SELECT CAST(attname AS TEXT), format_type(atttypid, NULL) FROM pg_attribute
             WHERE attrelid = CAST(CAST($1 AS TEXT) AS regclass) AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            &[&ident(table)],
        )
        .expect("PostgreSQL columns")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let mut stmt = source.prepare(&format!("SELECT * FROM {}", ident(table))).expect("select the SQLite rows");
    let names: Vec<String> = stmt.column_names().iter().map(|s| s.to_string()).collect();
    let types: Vec<&str> = names
        .iter()
        .map(|n| match pg_columns.iter().find(|(c, _)| c == n) {
            Some((_, ty)) => ty.as_str(),
            None => panic!("{table}.{n} is in the SQLite catalog but not in the PostgreSQL schema"),
        })
        .collect();
    let values = types
        .iter()
        .enumerate()
        .map(
            |(i, ty)| {
                if *ty == "bytea" { format!("${}", i + 1) } else { format!("CAST(CAST(${} AS TEXT) AS {ty})", i + 1) }
            },
        )
        .collect::<Vec<_>>()
        .join(", ");
    let insert = format!(
        "INSERT INTO {} ({}) VALUES ({values})",
        ident(table),
        names.iter().map(|n| ident(n)).collect::<Vec<_>>().join(", ")
    );
    let insert = tx.prepare(&insert).unwrap_or_else(|e| panic!("prepare {insert}: {e:?}"));
    let mut rows = stmt.query([]).expect("read the SQLite rows");
    while let Some(row) = rows.next().expect("next SQLite row") {
        let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(names.len());
        for (i, ty) in types.iter().enumerate() {
            let value = row.get_ref(i).expect("SQLite value");
            params.push(match (value, *ty == "bytea") {
                (ValueRef::Null, true) => Box::new(None::<Vec<u8>>),
                (ValueRef::Null, false) => Box::new(None::<String>),
                (ValueRef::Blob(b), true) => Box::new(b.to_vec()),
                (ValueRef::Blob(_), false) => panic!("{table}.{}: a blob for a {ty} column", names[i]),
                (_, true) => panic!("{table}.{}: not a blob for a bytea column", names[i]),
                (ValueRef::Integer(v), false) => Box::new(v.to_string()),
                (ValueRef::Real(v), false) => Box::new(v.to_string()),
                (ValueRef::Text(t), false) => Box::new(String::from_utf8(t.to_vec()).expect("UTF-8 text")),
            });
        }
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
        tx.execute(&insert, &refs).unwrap_or_else(|e| panic!("insert into {table}: {e:?}"));
    }
}
