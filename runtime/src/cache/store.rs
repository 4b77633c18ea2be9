//! Opening the database and the small `meta` table.

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Raw tables map postcard-encoded keys to postcard-encoded values.
pub(crate) type RawTable<'a> = TableDefinition<'a, &'static [u8], &'static [u8]>;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const POSITION: &str = "position";

/// A failure of the cache database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the cache database {path} is in use by another process; stop it first (or use another --home-dir)")]
    InUse { path: PathBuf },
    #[error("cache database: {0}")]
    Redb(#[from] redb::Error),
    #[error("cache encoding: {0}")]
    Encoding(#[from] postcard::Error),
    #[error("cannot create {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

macro_rules! redb_error {
    ($($ty:ident),+) => {$(
        impl From<redb::$ty> for StoreError {
            fn from(e: redb::$ty) -> Self {
                StoreError::Redb(e.into())
            }
        }
    )+};
}
redb_error!(DatabaseError, TransactionError, TableError, StorageError, CommitError);

/// The database of one pipeline.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse { path: path.to_path_buf() },
            other => other.into(),
        })?;
        Ok(Store { db: Arc::new(db) })
    }

    pub fn begin_write(&self) -> Result<WriteTransaction, StoreError> {
        Ok(self.db.begin_write()?)
    }

    pub fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(self.db.begin_read()?)
    }

    /// Creates the tables readers will open, so a read never finds a table missing.
    pub fn create_tables(&self, names: &[String]) -> Result<(), StoreError> {
        let txn = self.begin_write()?;
        for name in names {
            txn.open_table(RawTable::new(name))?;
        }
        txn.open_table(META)?;
        txn.commit()?;
        Ok(())
    }

    /// The number of source transactions committed so far: the position API responses report.
    pub fn position(&self) -> Result<u64, StoreError> {
        let txn = self.begin_read()?;
        read_position(&txn)
    }
}

pub fn read_position(txn: &ReadTransaction) -> Result<u64, StoreError> {
    let table = txn.open_table(META)?;
    Ok(table.get(POSITION)?.map(|v| v.value()).unwrap_or(0))
}

/// Advances the commit position inside the transaction that applies a source transaction.
pub(crate) fn bump_position(txn: &WriteTransaction) -> Result<u64, StoreError> {
    let mut table = txn.open_table(META)?;
    let next = table.get(POSITION)?.map(|v| v.value()).unwrap_or(0) + 1;
    table.insert(POSITION, next)?;
    Ok(next)
}

pub(crate) fn encode<T: serde::Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, StoreError> {
    Ok(postcard::to_stdvec(value)?)
}

pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    Ok(postcard::from_bytes(bytes)?)
}
