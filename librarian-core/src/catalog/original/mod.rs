//! Reading the catalog of the original (Python) Librarian, to import it (issue 14):
//! every query against its schema is here, written once for both of its backends
//! (SQLite in [`sqlite`], PostgreSQL in [`postgres`]). Every value is cast in SQL to
//! text, a 64-bit integer or bytes, so one parser reads the rows of either backend;
//! booleans become 0/1 with `CASE`, times text of one form ([`time`]). The source is
//! only ever read, in one snapshot.

// Used by the tests (and, through `internals`, by the e2e tests) until the import
// flow reads it; drop this then.

mod postgres;
mod rows;
mod sqlite;

pub use rows::{
    OriginalCorrupt, OriginalError, OriginalFile, OriginalIncoming, OriginalInstance, OriginalLibrarian,
    OriginalOutgoing, OriginalRemoteInstance, OriginalStore, OriginalUser,
};

use crate::error::{Error, Result};
pub use crate::model::OriginalCounts;

/// The alembic heads (schema versions) of the original this reader knows.
pub const SUPPORTED_ALEMBIC_HEADS: [&str; 1] = ["84785333a677"];

/// One value of a row, as the SQL casts made it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer (sizes, ids, booleans as 0/1).
    Int(i64),
    /// Text (names, checksums, times, enumeration members).
    Text(String),
    /// Bytes (pickled columns).
    Bytes(Vec<u8>),
}

/// A connection to an original catalog, read-only, inside one snapshot.
pub(crate) trait OriginalDb: std::fmt::Debug {
    /// The tables of the source's schema.
    fn tables(&mut self) -> Result<Vec<String>>;
    /// The columns of `table`.
    fn columns(&mut self, table: &str) -> Result<Vec<String>>;
    /// Run `sql` (a query of this module) and give each row to `each`.
    fn query(&mut self, sql: &str, each: &mut dyn FnMut(&[Cell]) -> Result<()>) -> Result<()>;
}

/// An original Librarian's catalog opened for reading.
#[derive(Debug)]
pub struct OriginalCatalog {
    db: Box<dyn OriginalDb + Send>,
    source: String,
    alembic: String,
}

/// Is `source` a PostgreSQL URL rather than a SQLite file?
pub fn is_postgres_url(source: &str) -> bool {
    source.starts_with("postgresql://") || source.starts_with("postgres://")
}

impl OriginalCatalog {
    /// Open `source`: a SQLite file written by the original, or a `postgresql://`
    /// URL of its database. Refuses a source that is not an original catalog (one of
    /// ours, another database) or whose schema version is not one this reader knows.
    pub fn open(source: &str) -> Result<Self> {
        let db: Box<dyn OriginalDb + Send> = if is_postgres_url(source) {
            Box::new(postgres::PgSource::open(source)?)
        } else {
            Box::new(sqlite::SqliteSource::open(std::path::Path::new(source))?)
        };
        let shown = if is_postgres_url(source) { postgres::redact(source) } else { source.to_owned() };
        let mut this = OriginalCatalog { db, source: shown, alembic: String::new() };
        let tables = this.db.tables()?;
        for needed in ["alembic_version", "files", "instances", "store_metadata", "users", "librarians"] {
            if !tables.iter().any(|t| t == needed) {
                return Err(Error::invalid(
                    "source",
                    format!("{} is not a catalog of the original Librarian: it has no table {needed:?}", this.source),
                ));
            }
        }
        let mut heads = Vec::new();
        this.db.query("SELECT CAST(version_num AS TEXT) FROM alembic_version", &mut |r| {
            heads.push(text(r, 0, "alembic_version.version_num")?);
            Ok(())
        })?;
        match heads.as_slice() {
            [one] if SUPPORTED_ALEMBIC_HEADS.contains(&one.as_str()) => this.alembic = one.clone(),
            _ => {
                return Err(Error::invalid(
                    "source",
                    format!(
                        "{} is at schema version {heads:?} of the original Librarian; this import reads {:?}: \
                         upgrade the original first (librarian-server-setup --migrate)",
                        this.source, SUPPORTED_ALEMBIC_HEADS
                    ),
                ));
            }
        }
        Ok(this)
    }

    /// The source as shown in reports (a URL without its password).
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The source's alembic head.
    pub fn alembic_version(&self) -> &str {
        &self.alembic
    }

    /// The rows of `sql`, run on the source, as its backend maps them to cells: for
    /// the tests of that mapping. Not a stable API.
    #[cfg(feature = "internals")]
    pub fn query_cells(&mut self, sql: &str) -> Result<Vec<Vec<Cell>>> {
        let mut rows = Vec::new();
        self.db.query(sql, &mut |r| {
            rows.push(r.to_vec());
            Ok(())
        })?;
        Ok(rows)
    }

    /// Rows per table, for the report (`None`: the table does not exist there).
    pub fn counts(&mut self) -> Result<OriginalCounts> {
        let tables = self.db.tables()?;
        let mut counts = OriginalCounts::default();
        for (table, slot) in [
            ("files", &mut counts.files),
            ("instances", &mut counts.instances),
            ("remote_instances", &mut counts.remote_instances),
            ("users", &mut counts.users),
            ("librarians", &mut counts.librarians),
            ("store_metadata", &mut counts.stores),
            ("incoming_transfers", &mut counts.incoming_transfers),
            ("outgoing_transfers", &mut counts.outgoing_transfers),
            ("clone_transfers", &mut counts.clone_transfers),
            ("send_queue", &mut counts.send_queue),
            ("completed_transfers", &mut counts.completed_transfers),
            ("corrupt_files", &mut counts.corrupt_files),
            ("errors", &mut counts.errors),
        ] {
            if !tables.iter().any(|t| t == table) {
                continue;
            }
            let mut n = 0;
            self.db.query(&format!("SELECT CAST(COUNT(*) AS BIGINT) FROM {table}"), &mut |r| {
                n = int(r, 0, "count")?;
                Ok(())
            })?;
            *slot = Some(u64::try_from(n).unwrap_or(0));
        }
        Ok(counts)
    }

    /// The stores (`store_metadata`), by id.
    pub fn stores(&mut self) -> Result<Vec<OriginalStore>> {
        let mut out = Vec::new();
        self.db.query(
            "SELECT CAST(id AS BIGINT), CAST(name AS TEXT), CASE WHEN ingestable THEN 1 ELSE 0 END,
                    CAST(store_type AS BIGINT), store_data, CASE WHEN enabled THEN 1 ELSE 0 END
             FROM store_metadata ORDER BY id",
            &mut |r| {
                out.push(OriginalStore {
                    id: int(r, 0, "store_metadata.id")?,
                    name: text(r, 1, "store_metadata.name")?,
                    ingestable: int(r, 2, "store_metadata.ingestable")? != 0,
                    store_type: int(r, 3, "store_metadata.store_type")?,
                    store_data: bytes_opt(r, 4, "store_metadata.store_data")?,
                    enabled: int(r, 5, "store_metadata.enabled")? != 0,
                });
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Available instances per store id (a store whose root is gone may be imported
    /// only when it holds none: a drive shipped away).
    pub fn available_per_store(&mut self) -> Result<std::collections::HashMap<i64, u64>> {
        let mut out = std::collections::HashMap::new();
        self.db.query(
            "SELECT CAST(store_id AS BIGINT), CAST(COUNT(*) AS BIGINT) FROM instances
             WHERE available AND store_id IS NOT NULL GROUP BY store_id",
            &mut |r| {
                out.insert(int(r, 0, "instances.store_id")?, u64::try_from(int(r, 1, "count")?).unwrap_or(0));
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The users, by name.
    pub fn users(&mut self) -> Result<Vec<OriginalUser>> {
        let mut out = Vec::new();
        self.db.query(
            "SELECT CAST(username AS TEXT), CAST(auth_token AS TEXT), CAST(auth_level AS TEXT)
             FROM users ORDER BY username",
            &mut |r| {
                out.push(OriginalUser {
                    name: text(r, 0, "users.username")?,
                    hash: text(r, 1, "users.auth_token")?,
                    level: text(r, 2, "users.auth_level")?,
                });
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The peers (`librarians`), by id.
    pub fn librarians(&mut self) -> Result<Vec<OriginalLibrarian>> {
        let enabled = if self.db.columns("librarians")?.iter().any(|c| c == "transfers_enabled") {
            "CASE WHEN transfers_enabled IS NULL THEN NULL WHEN transfers_enabled THEN 1 ELSE 0 END"
        } else {
            "NULL"
        };
        let mut out = Vec::new();
        self.db.query(
            &format!(
                "SELECT CAST(id AS BIGINT), CAST(name AS TEXT), CAST(url AS TEXT), CAST(port AS BIGINT),
                        CAST(authenticator AS TEXT), {enabled}
                 FROM librarians ORDER BY id"
            ),
            &mut |r| {
                out.push(OriginalLibrarian {
                    id: int(r, 0, "librarians.id")?,
                    name: text(r, 1, "librarians.name")?,
                    url: text(r, 2, "librarians.url")?,
                    port: int(r, 3, "librarians.port")?,
                    authenticator: text(r, 4, "librarians.authenticator")?,
                    transfers_enabled: int_opt(r, 5, "librarians.transfers_enabled")?.is_some_and(|v| v != 0),
                });
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// Every file, by name, one at a time.
    pub fn files(&mut self, each: &mut dyn FnMut(OriginalFile) -> Result<()>) -> Result<()> {
        self.db.query(
            &format!(
                "SELECT CAST(name AS TEXT), {}, CAST(size AS BIGINT), CAST(checksum AS TEXT),
                        CAST(uploader AS TEXT), CAST(source AS TEXT)
                 FROM files ORDER BY name",
                time("create_time")
            ),
            &mut |r| {
                each(OriginalFile {
                    name: text(r, 0, "files.name")?,
                    create_time: text(r, 1, "files.create_time")?,
                    size: int(r, 2, "files.size")?,
                    checksum: text(r, 3, "files.checksum")?,
                    uploader: text(r, 4, "files.uploader")?,
                    source: text(r, 5, "files.source")?,
                })
            },
        )
    }

    /// Every instance, by id, one at a time.
    pub fn instances(&mut self, each: &mut dyn FnMut(OriginalInstance) -> Result<()>) -> Result<()> {
        let cols = self.db.columns("instances")?;
        let has = |c: &str| cols.iter().any(|x| x == c);
        let calculated = if has("calculated_checksum") { "CAST(calculated_checksum AS TEXT)" } else { "NULL" };
        let checked = if has("checksum_time") { time("checksum_time") } else { "NULL".to_owned() };
        let created = time("created_time");
        self.db.query(
            &format!(
                "SELECT CAST(id AS BIGINT), CAST(path AS TEXT), CAST(deletion_policy AS TEXT),
                        {created}, CAST(file_name AS TEXT), CAST(store_id AS BIGINT),
                        CASE WHEN available THEN 1 ELSE 0 END, {calculated}, {checked}
                 FROM instances ORDER BY id"
            ),
            &mut |r| {
                each(OriginalInstance {
                    id: int(r, 0, "instances.id")?,
                    path: text(r, 1, "instances.path")?,
                    deletion_policy: text(r, 2, "instances.deletion_policy")?,
                    created_time: text(r, 3, "instances.created_time")?,
                    file_name: text_opt(r, 4, "instances.file_name")?,
                    store_id: int_opt(r, 5, "instances.store_id")?,
                    available: int(r, 6, "instances.available")? != 0,
                    calculated_checksum: text_opt(r, 7, "instances.calculated_checksum")?,
                    checksum_time: text_opt(r, 8, "instances.checksum_time")?,
                })
            },
        )
    }

    /// Every remote instance, by id, one at a time.
    pub fn remote_instances(&mut self, each: &mut dyn FnMut(OriginalRemoteInstance) -> Result<()>) -> Result<()> {
        self.db.query(
            &format!(
                "SELECT CAST(id AS BIGINT), CAST(file_name AS TEXT), CAST(store_id AS BIGINT),
                        CAST(librarian_id AS BIGINT), {}
                 FROM remote_instances ORDER BY id",
                time("copy_time")
            ),
            &mut |r| {
                each(OriginalRemoteInstance {
                    id: int(r, 0, "remote_instances.id")?,
                    file_name: text(r, 1, "remote_instances.file_name")?,
                    store_id: int(r, 2, "remote_instances.store_id")?,
                    librarian_id: int(r, 3, "remote_instances.librarian_id")?,
                    copy_time: text(r, 4, "remote_instances.copy_time")?,
                })
            },
        )
    }

    /// The incoming transfers (uploads and clones received), by id.
    pub fn incoming(&mut self) -> Result<Vec<OriginalIncoming>> {
        if !self.db.tables()?.iter().any(|t| t == "incoming_transfers") {
            return Ok(Vec::new());
        }
        let source_id = if self.db.columns("incoming_transfers")?.iter().any(|c| c == "source_transfer_id") {
            "CAST(source_transfer_id AS BIGINT)"
        } else {
            "NULL"
        };
        let mut out = Vec::new();
        self.db.query(
            &format!(
                "SELECT CAST(id AS BIGINT), CAST(status AS TEXT), CAST(uploader AS TEXT), CAST(upload_name AS TEXT),
                        CAST(source AS TEXT), CAST(transfer_size AS BIGINT), CAST(transfer_checksum AS TEXT),
                        CAST(store_id AS BIGINT), {}, {},
                        CAST(staging_path AS TEXT), CAST(store_path AS TEXT), {source_id}
                 FROM incoming_transfers ORDER BY id",
                time("start_time"),
                time("end_time")
            ),
            &mut |r| {
                out.push(OriginalIncoming {
                    id: int(r, 0, "incoming_transfers.id")?,
                    status: text(r, 1, "incoming_transfers.status")?,
                    uploader: text(r, 2, "incoming_transfers.uploader")?,
                    upload_name: text(r, 3, "incoming_transfers.upload_name")?,
                    source: text(r, 4, "incoming_transfers.source")?,
                    size: int(r, 5, "incoming_transfers.transfer_size")?,
                    checksum: text(r, 6, "incoming_transfers.transfer_checksum")?,
                    store_id: int_opt(r, 7, "incoming_transfers.store_id")?,
                    start_time: text(r, 8, "incoming_transfers.start_time")?,
                    end_time: text_opt(r, 9, "incoming_transfers.end_time")?,
                    staging_path: text_opt(r, 10, "incoming_transfers.staging_path")?,
                    store_path: text_opt(r, 11, "incoming_transfers.store_path")?,
                    source_transfer_id: int_opt(r, 12, "incoming_transfers.source_transfer_id")?,
                });
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The outgoing transfers (clones sent, SneakerNet drive copies), by id.
    pub fn outgoing(&mut self) -> Result<Vec<OriginalOutgoing>> {
        if !self.db.tables()?.iter().any(|t| t == "outgoing_transfers") {
            return Ok(Vec::new());
        }
        let cols = self.db.columns("outgoing_transfers")?;
        let pick = |c: &str, expr: &'static str| if cols.iter().any(|x| x == c) { expr } else { "NULL" };
        let queue = pick("send_queue_id", "CAST(send_queue_id AS BIGINT)");
        let remote = pick("remote_transfer_id", "CAST(remote_transfer_id AS BIGINT)");
        let mut out = Vec::new();
        self.db.query(
            &format!(
                "SELECT CAST(id AS BIGINT), CAST(status AS TEXT), CAST(destination AS TEXT),
                        CAST(transfer_size AS BIGINT), CAST(transfer_checksum AS TEXT), {},
                        {}, CAST(instance_id AS BIGINT), {remote}, CAST(file_name AS TEXT),
                        {queue}
                 FROM outgoing_transfers ORDER BY id",
                time("start_time"),
                time("end_time")
            ),
            &mut |r| {
                out.push(OriginalOutgoing {
                    id: int(r, 0, "outgoing_transfers.id")?,
                    status: text(r, 1, "outgoing_transfers.status")?,
                    destination: text(r, 2, "outgoing_transfers.destination")?,
                    size: int(r, 3, "outgoing_transfers.transfer_size")?,
                    checksum: text(r, 4, "outgoing_transfers.transfer_checksum")?,
                    start_time: text(r, 5, "outgoing_transfers.start_time")?,
                    end_time: text_opt(r, 6, "outgoing_transfers.end_time")?,
                    instance_id: int_opt(r, 7, "outgoing_transfers.instance_id")?,
                    remote_transfer_id: int_opt(r, 8, "outgoing_transfers.remote_transfer_id")?,
                    file_name: text_opt(r, 9, "outgoing_transfers.file_name")?,
                    send_queue_id: int_opt(r, 10, "outgoing_transfers.send_queue_id")?,
                });
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The corrupt-file records, by id.
    pub fn corrupt_files(&mut self) -> Result<Vec<OriginalCorrupt>> {
        if !self.db.tables()?.iter().any(|t| t == "corrupt_files") {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        self.db.query(
            &format!(
                "SELECT CAST(id AS BIGINT), CAST(file_name AS TEXT), CAST(instance_id AS BIGINT),
                        CAST(instance_path AS TEXT), {}, CAST(size AS BIGINT),
                        CAST(checksum AS TEXT), CAST(count AS BIGINT),
                        CASE WHEN replacement_requested THEN 1 ELSE 0 END
                 FROM corrupt_files ORDER BY id",
                time("corrupt_time")
            ),
            &mut |r| {
                out.push(OriginalCorrupt {
                    id: int(r, 0, "corrupt_files.id")?,
                    file_name: text(r, 1, "corrupt_files.file_name")?,
                    instance_id: int(r, 2, "corrupt_files.instance_id")?,
                    instance_path: text(r, 3, "corrupt_files.instance_path")?,
                    corrupt_time: text(r, 4, "corrupt_files.corrupt_time")?,
                    size: int(r, 5, "corrupt_files.size")?,
                    checksum: text(r, 6, "corrupt_files.checksum")?,
                    count: int(r, 7, "corrupt_files.count")?,
                    replacement_requested: int(r, 8, "corrupt_files.replacement_requested")? != 0,
                });
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The error records not yet cleared, by id.
    pub fn open_errors(&mut self) -> Result<Vec<OriginalError>> {
        if !self.db.tables()?.iter().any(|t| t == "errors") {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        self.db.query(
            &format!(
                "SELECT CAST(id AS BIGINT), CAST(severity AS TEXT), CAST(category AS TEXT), CAST(message AS TEXT), {}
                 FROM errors WHERE NOT cleared ORDER BY id",
                time("raised_time")
            ),
            &mut |r| {
                out.push(OriginalError {
                    id: int(r, 0, "errors.id")?,
                    severity: text(r, 1, "errors.severity")?,
                    category: text(r, 2, "errors.category")?,
                    message: text(r, 3, "errors.message")?,
                    raised_time: text(r, 4, "errors.raised_time")?,
                });
                Ok(())
            },
        )?;
        Ok(out)
    }
}

/// The time in `column` as text of one form on both backends, `YYYY-MM-DD
/// HH:MM:SS.ffffff`: SQLite holds what the original wrote (always six fraction
/// digits), PostgreSQL's text of a TIMESTAMP drops the fraction's trailing zeros
/// (`03:19:27.4394`, `03:19:28`), which are put back here. Text of any other shape is
/// left as it is.
fn time(column: &str) -> String {
    let t = format!("CAST({column} AS TEXT)");
    format!(
        "CASE WHEN {t} LIKE '____-__-__ __:__:__' THEN {t} || '.000000' \
         WHEN {t} LIKE '____-__-__ __:__:__._%' AND LENGTH({t}) < 26 THEN SUBSTR({t} || '00000', 1, 26) \
         ELSE {t} END"
    )
}

fn cell<'a>(r: &'a [Cell], i: usize, column: &str) -> Result<&'a Cell> {
    r.get(i).ok_or_else(|| Error::corrupt("the original catalog", format!("{column}: no such column in the row")))
}

fn text(r: &[Cell], i: usize, column: &str) -> Result<String> {
    text_opt(r, i, column)?.ok_or_else(|| Error::corrupt("the original catalog", format!("{column} is NULL")))
}

fn text_opt(r: &[Cell], i: usize, column: &str) -> Result<Option<String>> {
    match cell(r, i, column)? {
        Cell::Null => Ok(None),
        Cell::Text(s) => Ok(Some(s.clone())),
        Cell::Int(v) => Ok(Some(v.to_string())),
        Cell::Bytes(_) => Err(Error::corrupt("the original catalog", format!("{column} holds bytes, not text"))),
    }
}

fn int(r: &[Cell], i: usize, column: &str) -> Result<i64> {
    int_opt(r, i, column)?.ok_or_else(|| Error::corrupt("the original catalog", format!("{column} is NULL")))
}

fn int_opt(r: &[Cell], i: usize, column: &str) -> Result<Option<i64>> {
    match cell(r, i, column)? {
        Cell::Null => Ok(None),
        Cell::Int(v) => Ok(Some(*v)),
        Cell::Text(s) => s
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| Error::corrupt("the original catalog", format!("{column} is {s:?}, not an integer"))),
        Cell::Bytes(_) => Err(Error::corrupt("the original catalog", format!("{column} holds bytes, not a number"))),
    }
}

fn bytes_opt(r: &[Cell], i: usize, column: &str) -> Result<Option<Vec<u8>>> {
    match cell(r, i, column)? {
        Cell::Null => Ok(None),
        Cell::Bytes(b) => Ok(Some(b.clone())),
        Cell::Text(_) | Cell::Int(_) => {
            Err(Error::corrupt("the original catalog", format!("{column} holds no pickled bytes")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        format!("{}/../tests/fixtures/so-librarian/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn reads_the_original_sites_catalogs_row_for_row() {
        let mut a = OriginalCatalog::open(&fixture("site-a.sqlite")).expect("site A");
        assert_eq!(a.alembic_version(), "84785333a677");
        let c = a.counts().expect("counts");
        assert_eq!(
            (c.files, c.instances, c.remote_instances, c.users, c.librarians, c.stores),
            (Some(28), Some(56), Some(8), Some(6), Some(1), Some(2))
        );
        assert_eq!((c.incoming_transfers, c.outgoing_transfers, c.corrupt_files), (Some(29), Some(45), Some(1)));
        let stores = a.stores().expect("stores");
        assert_eq!(
            stores.iter().map(|s| (s.name.as_str(), s.enabled)).collect::<Vec<_>>(),
            [("main_store", true), ("sneaker_drive", false)]
        );
        let mut files = Vec::new();
        a.files(&mut |f| {
            files.push(f);
            Ok(())
        })
        .expect("files");
        assert_eq!(files.len(), 28);
        let bare = files.iter().find(|f| f.name == "legacy/md5_bare.dat").expect("bare md5");
        assert_eq!(bare.checksum, "c2abccbd2089ab33f171b790476ab542");
        let mut calculated = None;
        a.instances(&mut |i| {
            if i.id == 27 {
                calculated = i.calculated_checksum;
            }
            Ok(())
        })
        .expect("instances");
        assert!(calculated.is_some_and(|c| c.starts_with("md5:::")));
        let out = a.outgoing().expect("outgoing");
        let o18 = out.iter().find(|o| o.id == 18).expect("outgoing 18");
        assert_eq!((o18.status.as_str(), o18.send_queue_id, o18.remote_transfer_id), ("ONGOING", None, None));
        let corrupt = a.corrupt_files().expect("corrupt");
        assert_eq!(corrupt.len(), 1);
        assert_eq!((corrupt[0].file_name.as_str(), corrupt[0].count), ("corrupt_me.dat", 2));
        let users = a.users().expect("users");
        assert!(users.iter().any(|u| u.name == "cathy" && u.level == "CALLBACK"));
        let peers = a.librarians().expect("librarians");
        assert_eq!((peers[0].name.as_str(), peers[0].port, peers[0].transfers_enabled), ("so-site-b", 18902, true));

        let mut b = OriginalCatalog::open(&fixture("site-b.sqlite")).expect("site B");
        let inc = b.incoming().expect("incoming");
        assert_eq!(inc.iter().filter(|i| i.status == "STAGED").count(), 5);
    }

    #[test]
    fn original_times_read_as_one_form() {
        let conn = rusqlite::Connection::open_in_memory().expect("memory");
        for (stored, read) in [
            (Some("2026-12-02 03:19:27.439426"), Some("2026-12-02 03:19:27.439426")),
            (Some("2026-12-02 03:19:27.4394"), Some("2026-12-02 03:19:27.439400")),
            (Some("2026-12-02 03:19:27.4"), Some("2026-12-02 03:19:27.400000")),
            (Some("2026-12-02 03:19:27"), Some("2026-12-02 03:19:27.000000")),
            (Some("yesterday"), Some("yesterday")),
            (None, None),
        ] {
            let sql = format!("SELECT {} FROM (SELECT ?1 AS t)", time("t"));
            let got: Option<String> = conn.query_row(&sql, [stored], |r| r.get(0)).expect("query");
            assert_eq!(got.as_deref(), read, "{stored:?}");
        }
    }

    #[test]
    fn refuses_what_is_not_an_original_catalog() {
        let dir = tempfile::tempdir().expect("tmp");
        let ours = dir.path().join("ours.db");
        drop(crate::catalog::Catalog::open(&ours).expect("our catalog"));
        let e = OriginalCatalog::open(ours.to_str().expect("utf-8")).expect_err("ours refused");
        assert!(e.to_string().contains("ours"), "{e}");
        let junk = dir.path().join("junk");
        std::fs::write(&junk, b"not a database at all, not even close to one").expect("write");
        assert_eq!(OriginalCatalog::open(junk.to_str().expect("utf-8")).expect_err("junk").code(), "invalid_argument");
        // Another alembic head.
        let other = dir.path().join("other.sqlite");
        std::fs::copy(fixture("site-b.sqlite"), &other).expect("copy");
        let conn = rusqlite::Connection::open(&other).expect("open");
        conn.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'", []).expect("update");
        drop(conn);
        let e = OriginalCatalog::open(other.to_str().expect("utf-8")).expect_err("other head");
        assert!(e.to_string().contains("upgrade the original first"), "{e}");
        assert!(OriginalCatalog::open(dir.path().join("absent").to_str().expect("utf-8")).is_err());
    }
}
