//! SQL for retiring stores: removing a store from the catalog, or recycling a drive
//! whose copies have all been delivered.

use std::path::PathBuf;

use rusqlite::{TransactionBehavior, params};

use super::Catalog;
use crate::error::{Error, Result};

impl Catalog {
    /// Why store `store` (id) may not be retired yet: its available instances and its
    /// active transfers, counted.
    fn retire_blockers(tx: &rusqlite::Transaction<'_>, store: i64) -> Result<(i64, i64)> {
        let available: i64 = tx
            .query_row("SELECT COUNT(*) FROM instances WHERE store_id = ?1 AND available = 1", [store], |r| r.get(0))
            .map_err(Error::db("checking a store"))?;
        let active: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM transfers WHERE store_id = ?1 AND status IN ('initiated', 'ongoing', 'staged')",
                [store],
                |r| r.get(0),
            )
            .map_err(Error::db("checking a store"))?;
        Ok((available, active))
    }

    /// Forget store `name`: refused while it holds available instances or active
    /// transfers. Its unavailable instance rows go; finished transfers keep their
    /// history without the store. Nothing on disk is touched.
    pub fn remove_store(&self, name: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx =
            conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(Error::db("removing a store"))?;
        let row = self.store_in(&tx, name)?;
        let (available, active) = Self::retire_blockers(&tx, row)?;
        if available > 0 || active > 0 {
            return Err(Error::invalid(
                "store",
                format!(
                    "store {name} still holds {available} available instance(s) and {active} active transfer(s); \
                 it can be removed once its copies are elsewhere (a drive: once its drive_done event is raised)"
                ),
            ));
        }
        tx.execute("DELETE FROM instances WHERE store_id = ?1", [row]).map_err(Error::db("removing a store"))?;
        tx.execute("UPDATE transfers SET store_id = NULL WHERE store_id = ?1", [row])
            .map_err(Error::db("removing a store"))?;
        tx.execute("DELETE FROM stores WHERE id = ?1", [row]).map_err(Error::db("removing a store"))?;
        tx.commit().map_err(Error::db("removing a store"))
    }

    /// The unavailable instances of store `name` (absolute paths), for recycling; the
    /// same refusals as [`Catalog::remove_store`].
    pub fn retired_instances(&self, name: &str) -> Result<Vec<PathBuf>> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(Error::db("checking a store"))?;
        let row = self.store_in(&tx, name)?;
        let (available, active) = Self::retire_blockers(&tx, row)?;
        if available > 0 || active > 0 {
            return Err(Error::invalid(
                "store",
                format!(
                    "store {name} still holds {available} available instance(s) and {active} active transfer(s); \
                 it can be recycled once its copies are delivered (its drive_done event)"
                ),
            ));
        }
        let mut stmt = tx
            .prepare("SELECT s.root || '/' || i.path FROM instances i JOIN stores s ON s.id = i.store_id WHERE i.store_id = ?1")
            .map_err(Error::db("listing a store"))?;
        let rows = stmt.query_map([row], |r| r.get::<_, String>(0)).map_err(Error::db("listing a store"))?;
        rows.map(|r| r.map(PathBuf::from)).collect::<rusqlite::Result<_>>().map_err(Error::db("listing a store"))
    }

    /// After recycling: enable the store again. Its (unavailable) instance rows stay:
    /// they record what the drive carried, so the next fill does not copy those files
    /// onto it again.
    pub fn finish_recycle(&self, name: &str) -> Result<()> {
        let n = self
            .conn()
            .execute("UPDATE stores SET enabled = 1 WHERE name = ?1", params![name])
            .map_err(Error::db("recycling a store"))?;
        if n == 0 {
            return Err(Error::NotFound { kind: crate::error::ObjectKind::Store, name: name.to_owned() });
        }
        Ok(())
    }

    fn store_in(&self, tx: &rusqlite::Transaction<'_>, name: &str) -> Result<i64> {
        use rusqlite::OptionalExtension;
        tx.query_row("SELECT id FROM stores WHERE name = ?1", [name], |r| r.get(0))
            .optional()
            .map_err(Error::db("reading a store"))?
            .ok_or_else(|| Error::NotFound { kind: crate::error::ObjectKind::Store, name: name.to_owned() })
    }
}
