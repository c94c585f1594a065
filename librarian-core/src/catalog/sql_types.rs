//! How the value types' enums are stored: as their text spelling (`as_str`), read
//! back through `FromSql`. A value no version of librarian writes is
//! [`Error::Corrupt`] (through [`Error::db`]), never a usage error: the caller did
//! nothing wrong, the catalog holds something it should not.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::checksum::EntryKind;
use crate::error::Error;
use crate::model::{
    AlertKind, CallKind, Category, DeletionPolicy, Direction, FileKind, InstanceState, Level, ManagerKind, RemoteState,
    Severity, TransferStatus,
};

/// `ToSql` (its `as_str`) and `FromSql` (the variant of `ALL` with that spelling,
/// else corrupt) for `$t`, described as `$what` in errors.
macro_rules! sql_text_enum {
    ($t:ty, $what:literal) => {
        impl ToSql for $t {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $t {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let text = value.as_str()?;
                <$t>::ALL
                    .into_iter()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| FromSqlError::Other(Box::new(Error::corrupt_row($what, text))))
            }
        }
    };
}

sql_text_enum!(FileKind, "file kind");
sql_text_enum!(EntryKind, "book entry kind");
sql_text_enum!(DeletionPolicy, "deletion policy");
sql_text_enum!(Severity, "event severity");
sql_text_enum!(Category, "event category");
sql_text_enum!(CallKind, "call kind");
sql_text_enum!(Direction, "transfer direction");
sql_text_enum!(TransferStatus, "transfer status");
sql_text_enum!(ManagerKind, "transfer manager");
sql_text_enum!(Level, "account level");
sql_text_enum!(InstanceState, "instance state");
sql_text_enum!(RemoteState, "remote instance state");
sql_text_enum!(AlertKind, "alert kind");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_enum_round_trips_and_unknown_text_is_corrupt() {
        let conn = rusqlite::Connection::open_in_memory().expect("db");
        let back: TransferStatus =
            conn.query_row("SELECT ?1", [TransferStatus::Staged], |r| r.get(0)).expect("round trip");
        assert_eq!(back, TransferStatus::Staged);
        let back: Category = conn.query_row("SELECT ?1", [Category::DriveDone], |r| r.get(0)).expect("round trip");
        assert_eq!(back, Category::DriveDone);
        let bad = conn
            .query_row("SELECT 'exploded'", [], |r| r.get::<_, Severity>(0))
            .map_err(Error::db("reading an event"))
            .expect_err("unknown severity");
        assert_eq!(bad.code(), "corrupt", "{bad}");
        assert!(bad.to_string().contains("exploded"), "{bad}");
        let bad = conn.query_row("SELECT 7", [], |r| r.get::<_, FileKind>(0)).map_err(Error::db("reading a file"));
        assert_eq!(bad.map_err(|e| e.code()).err(), Some("corrupt"));
    }
}
