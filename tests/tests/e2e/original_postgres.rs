//! The original (Python) Librarian's catalog in PostgreSQL, its production backend
//! (issue 14): the fixture sites' SQLite catalogs copied into a private PostgreSQL
//! server (one per test: each pays for its own `initdb`) read exactly as the SQLite
//! files are; read without writing, inside one snapshot; and never over the network
//! without TLS.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use librarian_core::original::OriginalCatalog;
use librarian_e2e::postgres::{PgServer, load_original_fixture};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/so-librarian").join(name)
}

fn open(source: &str) -> OriginalCatalog {
    OriginalCatalog::open(source).unwrap_or_else(|e| panic!("open {source}: {e}"))
}

/// Everything `OriginalCatalog` reads, one row a line (rows sorted where their order
/// may follow the database's collation).
fn everything(c: &mut OriginalCatalog) -> Vec<String> {
    fn lines<T: std::fmt::Debug>(what: &str, rows: &[T]) -> Vec<String> {
        rows.iter().map(|r| format!("{what}: {r:?}")).collect()
    }
    let mut users = c.users().unwrap();
    users.sort_by(|a, b| a.name.cmp(&b.name));
    let mut files = Vec::new();
    c.files(&mut |f| {
        files.push(f);
        Ok(())
    })
    .unwrap();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    let mut instances = Vec::new();
    c.instances(&mut |i| {
        instances.push(i);
        Ok(())
    })
    .unwrap();
    let mut remote = Vec::new();
    c.remote_instances(&mut |r| {
        remote.push(r);
        Ok(())
    })
    .unwrap();
    let mut out = vec![format!("alembic: {}", c.alembic_version()), format!("counts: {:?}", c.counts().unwrap())];
    out.extend(lines("store", &c.stores().unwrap()));
    out.extend(lines("user", &users));
    out.extend(lines("librarian", &c.librarians().unwrap()));
    out.extend(lines("file", &files));
    out.extend(lines("instance", &instances));
    out.extend(lines("remote", &remote));
    out.extend(lines("incoming", &c.incoming().unwrap()));
    out.extend(lines("outgoing", &c.outgoing().unwrap()));
    out.extend(lines("corrupt", &c.corrupt_files().unwrap()));
    out.extend(lines("error", &c.open_errors().unwrap()));
    out
}

/// Panic, showing the lines that differ, unless `pg` and `sqlite` are equal.
#[track_caller]
fn assert_same(what: &str, pg: &[String], sqlite: &[String]) {
    let differ: Vec<String> = pg
        .iter()
        .zip(sqlite)
        .filter(|(p, s)| p != s)
        .take(5)
        .map(|(p, s)| format!("PostgreSQL {p}\nSQLite     {s}"))
        .collect();
    assert!(
        differ.is_empty() && pg.len() == sqlite.len(),
        "{what}: PostgreSQL and SQLite read differently ({} and {} rows):\n{}",
        pg.len(),
        sqlite.len(),
        differ.join("\n")
    );
}

/// A copy of site B's catalog with error records added (the fixtures have none):
/// one cleared, and raised times whose fractions end in zeros or are zero, which
/// PostgreSQL prints shortened.
fn site_b_with_errors(dir: &Path) -> PathBuf {
    let copy = dir.join("site-b.sqlite");
    std::fs::copy(fixture("site-b.sqlite"), &copy).unwrap();
    let conn = rusqlite::Connection::open(&copy).unwrap();
    conn.execute_batch(
        "INSERT INTO errors (id, severity, category, message, raised_time, cleared_time, cleared, caller) VALUES
           (1, 'ERROR', 'DATA_INTEGRITY', 'checksum of ''a.dat'' differs – №1', '2026-12-02 03:19:27.439400', NULL, 0, 'scrub'),
           (2, 'WARNING', 'STORE_FULL', 'cleared long ago', '2026-12-02 03:19:28.000000', '2026-12-02 04:00:00.000000', 1, NULL),
           (3, 'CRITICAL', 'TRANSFER', 'whole second', '2026-12-02 03:19:29.000000', NULL, 0, NULL),
           (4, 'INFO', 'PROGRAMMING', 'one digit', '2026-12-02 03:19:30.500000', NULL, 0, NULL)",
    )
    .unwrap();
    copy
}

#[test]
fn original_postgres_reads_like_sqlite() {
    let Some(pg) = PgServer::start() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let site_b = site_b_with_errors(tmp.path());
    for (db, sqlite) in [("site_a", fixture("site-a.sqlite")), ("site_b", site_b)] {
        load_original_fixture(&pg, db, &sqlite);
        let url = pg.url(db);
        let mut from_pg = open(&url);
        assert_eq!(from_pg.source(), url, "no password to hide");
        let from_pg = everything(&mut from_pg);
        let from_sqlite = everything(&mut open(sqlite.to_str().unwrap()));
        assert_same(db, &from_pg, &from_sqlite);
        // The comparison has substance: rows of every kind (and in B the added errors).
        let kinds = if db == "site_a" {
            &["store", "user", "librarian", "file", "instance", "remote", "incoming", "outgoing", "corrupt"][..]
        } else {
            &["store", "user", "librarian", "file", "instance", "incoming", "error"][..]
        };
        for kind in kinds {
            assert!(from_pg.iter().any(|l| l.starts_with(&format!("{kind}: "))), "{db}: no {kind} read");
        }
        assert!(from_pg.iter().any(|l| l.contains("store_data: Some(")), "{db}: no pickled store data");
        if db == "site_b" {
            let errors = open(&url).open_errors().unwrap();
            assert_eq!(errors.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 3, 4], "cleared errors are not open");
            let times: Vec<&str> = errors.iter().map(|e| e.raised_time.as_str()).collect();
            assert_eq!(
                times,
                ["2026-12-02 03:19:27.439400", "2026-12-02 03:19:29.000000", "2026-12-02 03:19:30.500000"]
            );
        }
    }
    // Each type the reader maps, as PostgreSQL sends it; any other is refused by name.
    let mut c = open(&pg.url("site_a"));
    let rows = c
        .query_cells(
            "SELECT CAST(1 AS SMALLINT), CAST(2 AS INTEGER), CAST(3 AS BIGINT), TRUE, FALSE, CAST('x' AS TEXT),
                    CAST('y' AS VARCHAR(3)), CAST('z' AS CHAR(2)), CAST('n' AS NAME), CAST('\\x0001ff' AS BYTEA),
                    CAST(1.5 AS REAL), CAST(2.25 AS DOUBLE PRECISION), CAST(-12345.678900 AS NUMERIC),
                    CAST(0.0042 AS NUMERIC), CAST(NULL AS BIGINT), CAST(NULL AS TEXT)",
        )
        .unwrap();
    use librarian_core::original::Cell::{Bytes, Int, Null, Text};
    let text = |s: &str| Text(s.to_owned());
    assert_eq!(
        rows,
        [vec![
            Int(1),
            Int(2),
            Int(3),
            Int(1),
            Int(0),
            text("x"),
            text("y"),
            text("z "),
            text("n"),
            Bytes(vec![0, 1, 255]),
            text("1.5"),
            text("2.25"),
            text("-12345.678900"),
            text("0.0042"),
            Null,
            Null
        ]]
    );
    let e = c.query_cells("SELECT CAST(1 AS BIGINT), CAST('2026-12-02' AS DATE)").unwrap_err();
    assert_eq!(e.code(), "corrupt", "{e}");
    assert!(e.to_string().contains("column 1 has type date"), "{e}");
    assert_eq!(c.query_cells("SELECT CAST(7 AS BIGINT)").unwrap(), [vec![Int(7)]], "usable after a refused row");
}

#[test]
fn original_postgres_is_never_written_and_refuses_remote_hosts() {
    let Some(pg) = PgServer::start() else { return };
    load_original_fixture(&pg, "site_a", &fixture("site-a.sqlite"));
    let mut admin = pg.client("site_a");
    // Any write to any table fails loudly (the reader's own transaction is read-only
    // besides: this catches a write however it would be attempted).
    admin
        .batch_execute(
            "CREATE FUNCTION refuse_writes() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN RAISE EXCEPTION 'the original catalog was written: % on %', TG_OP, TG_TABLE_NAME; END $$;
             DO $$ DECLARE t text; BEGIN
               FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() LOOP
                 EXECUTE format('CREATE TRIGGER refuse_writes BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON %I
                                 FOR EACH STATEMENT EXECUTE FUNCTION refuse_writes()', t);
               END LOOP;
             END $$;",
        )
        .unwrap();

    let mut reader = open(&pg.url("site_a"));
    let before = everything(&mut reader);
    // Another session changes the catalog meanwhile (triggers off for it): the reader
    // does not see it, it reads one snapshot.
    admin
        .batch_execute(
            "SET session_replication_role = replica;
             INSERT INTO users (username, auth_token, auth_level) VALUES ('zed', 'x', 'READONLY');
             UPDATE files SET size = size + 1;",
        )
        .unwrap();
    assert_same("the reader's one snapshot", &everything(&mut reader), &before);
    // Its session wrote nothing: a transaction that writes anything gets an xid; it
    // holds a snapshot (xmin), inside a transaction still open.
    let row = admin
        .query_one(
            "SELECT CAST(backend_xid AS TEXT), backend_xmin IS NOT NULL, state FROM pg_stat_activity
             WHERE application_name = 'librarian import-original'",
            &[],
        )
        .unwrap();
    let (xid, snapshot, state): (Option<String>, bool, String) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((xid, snapshot, state.as_str()), (None, true, "idle in transaction"));
    drop(reader);
    assert!(!pg.log().contains("the original catalog was written"), "{}", pg.log());

    // A database that is not an original catalog.
    pg.create_db("empty");
    let e = OriginalCatalog::open(&pg.url("empty")).unwrap_err();
    assert!(e.to_string().contains("is not a catalog of the original Librarian"), "{e}");

    // A remote host: refused at once, before any connection (192.0.2.1 is TEST-NET-1:
    // connecting there would hang until the connect timeout).
    for url in [
        "postgresql://u:secret@db.example.org/x",
        "postgresql://u:secret@192.0.2.1:5432/librarian",
        "postgresql://u@localhost/x?hostaddr=192.0.2.1&password=secret",
    ] {
        let t = Instant::now();
        let e = OriginalCatalog::open(url).unwrap_err();
        let text = e.to_string();
        assert!(t.elapsed() < Duration::from_secs(2), "{url}: took {:?}", t.elapsed());
        assert_eq!(e.code(), "invalid_argument", "{text}");
        assert!(text.contains("unencrypted") && text.contains("ssh -L"), "{text}");
        assert!(!text.contains("secret"), "{text}");
    }

    // Password authentication (SCRAM): the right password reads, a wrong one is a
    // clear error that does not quote it.
    admin
        .batch_execute(
            "CREATE ROLE reader LOGIN PASSWORD 'right-secret';
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO reader;",
        )
        .unwrap();
    pg.require_password("reader");
    let dir = pg.socket_dir().display().to_string();
    let right = format!("postgresql://reader:right-secret@/site_a?host={dir}");
    let mut as_reader = open(&right);
    assert_eq!(as_reader.source(), format!("postgresql://reader:***@/site_a?host={dir}"));
    assert_eq!(as_reader.counts().unwrap().files, Some(28));
    let e = OriginalCatalog::open(&format!("postgresql://reader:wrong-secret@/site_a?host={dir}")).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("password authentication failed") && text.contains("reader:***"), "{text}");
    assert!(!text.contains("secret"), "{text}");

    // A database that does not exist, and a socket directory with no server: clear
    // errors, without the password.
    let e = OriginalCatalog::open(&format!("postgresql://libtest:secret@/no_such_db?host={dir}")).unwrap_err();
    let text = e.to_string();
    assert!(text.contains("no_such_db") && text.contains("does not exist"), "{text}");
    assert!(!text.contains("secret") && text.contains("libtest:***"), "{text}");
    let e = OriginalCatalog::open("postgresql:///x?host=/nonexistent/socket/dir&user=u&password=secret").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("cannot connect") && !text.contains("secret"), "{text}");
}
