//! SQL for accounts and peers.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, Row, params};

use super::{Catalog, ts_from_sql, ts_to_sql};
use crate::error::{Error, ObjectKind, Result};
use crate::model::Peer;
use crate::model::{Account, Level, Password};

const ACCOUNT_SELECT: &str = "SELECT a.name, a.level, p.name, a.created_at, a.password_hash
     FROM accounts a LEFT JOIN peers p ON p.id = a.peer_id";

fn account_from_row(r: &Row<'_>) -> rusqlite::Result<(Account, String)> {
    Ok((Account { name: r.get(0)?, level: r.get(1)?, peer: r.get(2)?, created_at: ts_from_sql(r.get(3)?)? }, r.get(4)?))
}

const PEER_SELECT: &str = "SELECT name, url, account, transfers_enabled, created_at, password, protocol FROM peers";

fn peer_from_row(r: &Row<'_>) -> rusqlite::Result<(Peer, String)> {
    Ok((
        Peer {
            name: r.get(0)?,
            url: r.get(1)?,
            account: r.get(2)?,
            transfers_enabled: r.get(3)?,
            created_at: ts_from_sql(r.get(4)?)?,
            protocol: r
                .get::<_, String>(6)?
                .parse()
                .map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, rusqlite::types::Type::Text, Box::new(e)))?,
        },
        r.get(5)?,
    ))
}

impl Catalog {
    /// Add an account with an already computed password hash.
    pub fn insert_account(
        &self,
        name: &str,
        password_hash: &str,
        level: Level,
        peer: Option<&str>,
        now: Timestamp,
    ) -> Result<()> {
        let conn = self.conn();
        let peer_id: Option<i64> = match peer {
            Some(p) => Some(
                conn.query_row("SELECT id FROM peers WHERE name = ?1", [p], |r| r.get(0))
                    .optional()
                    .map_err(Error::db("looking up a peer"))?
                    .ok_or_else(|| Error::NotFound { kind: ObjectKind::Peer, name: p.to_owned() })?,
            ),
            None => None,
        };
        let n = conn
            .execute(
                "INSERT INTO accounts (name, password_hash, level, peer_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (name) DO NOTHING",
                params![name, password_hash, level.as_str(), peer_id, ts_to_sql(now)],
            )
            .map_err(Error::db("adding an account"))?;
        if n == 0 {
            return Err(Error::AlreadyExists { kind: ObjectKind::Account, name: name.to_owned() });
        }
        Ok(())
    }

    /// All accounts, by name.
    pub fn accounts(&self) -> Result<Vec<Account>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("{ACCOUNT_SELECT} ORDER BY a.name")).map_err(Error::db("listing accounts"))?;
        let rows = stmt.query_map([], account_from_row).map_err(Error::db("listing accounts"))?;
        rows.map(|r| r.map(|(a, _)| a)).collect::<rusqlite::Result<_>>().map_err(Error::db("listing accounts"))
    }

    /// An account and its password hash.
    pub fn account_with_hash(&self, name: &str) -> Result<Option<(Account, String)>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare_cached(&format!("{ACCOUNT_SELECT} WHERE a.name = ?1"))
            .map_err(Error::db("reading an account"))?;
        stmt.query_row([name], account_from_row).optional().map_err(Error::db("reading an account"))
    }

    /// Remove an account.
    pub fn delete_account(&self, name: &str) -> Result<()> {
        let n = self
            .conn()
            .execute("DELETE FROM accounts WHERE name = ?1", [name])
            .map_err(Error::db("removing an account"))?;
        if n == 0 {
            return Err(Error::NotFound { kind: ObjectKind::Account, name: name.to_owned() });
        }
        Ok(())
    }

    /// Add a peer.
    pub fn insert_peer(&self, name: &str, url: &str, account: &str, password: &Password, now: Timestamp) -> Result<()> {
        let n = self
            .conn()
            .execute(
                "INSERT INTO peers (name, url, account, password, transfers_enabled, created_at)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5) ON CONFLICT (name) DO NOTHING",
                params![name, url, account, password.expose(), ts_to_sql(now)],
            )
            .map_err(Error::db("adding a peer"))?;
        if n == 0 {
            return Err(Error::AlreadyExists { kind: ObjectKind::Peer, name: name.to_owned() });
        }
        Ok(())
    }

    /// All peers, by name.
    pub fn peers(&self) -> Result<Vec<Peer>> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("{PEER_SELECT} ORDER BY name")).map_err(Error::db("listing peers"))?;
        let rows = stmt.query_map([], peer_from_row).map_err(Error::db("listing peers"))?;
        rows.map(|r| r.map(|(p, _)| p)).collect::<rusqlite::Result<_>>().map_err(Error::db("listing peers"))
    }

    /// A peer and the password we use there.
    pub fn peer_with_password(&self, name: &str) -> Result<(Peer, Password)> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached(&format!("{PEER_SELECT} WHERE name = ?1")).map_err(Error::db("reading a peer"))?;
        let (peer, secret) = stmt
            .query_row([name], peer_from_row)
            .optional()
            .map_err(Error::db("reading a peer"))?
            .ok_or_else(|| Error::NotFound { kind: ObjectKind::Peer, name: name.to_owned() })?;
        Ok((peer, Password::new(secret)?))
    }

    /// Remove a peer; refused while accounts belong to it, calls to it are queued, or
    /// transfers with it are on record (its history is kept: disable it instead).
    pub fn delete_peer(&self, name: &str) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(Error::db("removing a peer"))?;
        let owners: Vec<String> = {
            let mut stmt = tx
                .prepare(
                    "SELECT a.name FROM accounts a JOIN peers p ON p.id = a.peer_id WHERE p.name = ?1 ORDER BY a.name",
                )
                .map_err(Error::db("removing a peer"))?;
            let rows = stmt.query_map([name], |r| r.get(0)).map_err(Error::db("removing a peer"))?;
            rows.collect::<rusqlite::Result<_>>().map_err(Error::db("removing a peer"))?
        };
        if !owners.is_empty() {
            return Err(Error::invalid(
                "peer",
                format!("peer {name} still has accounts ({}); remove them first", owners.join(", ")),
            ));
        }
        let queued: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM outbox o JOIN peers p ON p.id = o.peer_id WHERE p.name = ?1",
                [name],
                |r| r.get(0),
            )
            .map_err(Error::db("removing a peer"))?;
        if queued > 0 {
            return Err(Error::invalid(
                "peer",
                format!(
                    "peer {name} has {queued} queued call(s) (see `librarian outbox list --peer {name}`); \
                 they would be lost: deliver them first"
                ),
            ));
        }
        // Transfers (and their batches) are the history of what was copied where: kept,
        // never deleted with a peer. A peer with history is disabled, not removed.
        let (transfers, active): (i64, i64) = tx
            .query_row(
                "SELECT COUNT(*), COALESCE(SUM(t.status IN ('initiated', 'ongoing', 'staged')), 0)
                 FROM transfers t JOIN peers p ON p.id = t.peer_id WHERE p.name = ?1",
                [name],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(Error::db("removing a peer"))?;
        if transfers > 0 {
            return Err(Error::invalid(
                "peer",
                format!(
                    "peer {name} has {transfers} transfer(s) in its history ({active} still active); the history of \
                 what was copied where is kept, so the peer cannot be removed: stop transfers with \
                 `librarian peer disable {name}` instead"
                ),
            ));
        }
        let n = tx.execute("DELETE FROM peers WHERE name = ?1", [name]).map_err(Error::db("removing a peer"))?;
        if n == 0 {
            return Err(Error::NotFound { kind: ObjectKind::Peer, name: name.to_owned() });
        }
        tx.commit().map_err(Error::db("removing a peer"))
    }

    /// Change the protocol a peer speaks.
    pub fn set_peer_protocol(&self, name: &str, protocol: crate::model::PeerProtocol) -> Result<Peer> {
        self.update_peer(name, PeerColumn::Protocol, &protocol.as_str())
    }

    /// Change a peer's URL (it moved, or a migrated site now answers elsewhere).
    pub fn set_peer_url(&self, name: &str, url: &str) -> Result<Peer> {
        self.update_peer(name, PeerColumn::Url, &url)
    }

    /// Allow or stop new transfers to a peer.
    pub fn set_peer_transfers(&self, name: &str, enabled: bool) -> Result<Peer> {
        self.update_peer(name, PeerColumn::TransfersEnabled, &enabled)
    }

    /// Set one column of peer `name`; the peer after.
    fn update_peer(&self, name: &str, column: PeerColumn, value: &dyn rusqlite::ToSql) -> Result<Peer> {
        let sql = match column {
            PeerColumn::Url => "UPDATE peers SET url = ?2 WHERE name = ?1",
            PeerColumn::Protocol => "UPDATE peers SET protocol = ?2 WHERE name = ?1",
            PeerColumn::TransfersEnabled => "UPDATE peers SET transfers_enabled = ?2 WHERE name = ?1",
        };
        let n = self.conn().execute(sql, params![name, value]).map_err(Error::db("changing a peer"))?;
        if n == 0 {
            return Err(Error::NotFound { kind: ObjectKind::Peer, name: name.to_owned() });
        }
        Ok(self.peer_with_password(name)?.0)
    }
}

/// The columns of a peer that can be changed.
#[derive(Debug, Clone, Copy)]
enum PeerColumn {
    Url,
    Protocol,
    TransfersEnabled,
}
