//! Opening the database and the small `meta` table.

use redb::{
    Database, ReadTransaction, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction,
};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Raw tables map postcard-encoded keys to postcard-encoded values.
pub(crate) type RawTable<'a> = TableDefinition<'a, &'static [u8], &'static [u8]>;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const POSITION: &str = "position";
/// Which pipeline wrote the database: operator state is only meaningful to the same code.
const PIPELINE: TableDefinition<&str, &str> = TableDefinition::new("pipeline");
const FINGERPRINT: &str = "fingerprint";
/// Per Postgres connection: the end LSN of the last source transaction committed here.
const SOURCE_LSN: TableDefinition<&str, u64> = TableDefinition::new("source_lsn");
/// Per Postgres connection: the replication slot this database was built from.
const SLOTS: TableDefinition<&str, &str> = TableDefinition::new("replication_slot");

/// A failure of the cache database.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the cache database {path} is in use by another process; stop it first (or use another --home-dir)")]
    InUse { path: PathBuf },
    #[error("cache database: {0}")]
    Redb(#[from] redb::Error),
    #[error("cache encoding: {0}")]
    Encoding(#[from] postcard::Error),
    #[error("cache index: {0}")]
    Index(#[from] super::index_key::UnindexableValue),
    #[error("restoring operator state: {0}")]
    State(String),
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
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
redb_error!(
    DatabaseError,
    TransactionError,
    TableError,
    StorageError,
    CommitError
);

/// The database of one pipeline.
#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
    /// The committed position, kept in memory: every API response reports it, and reading it
    /// from the database would cost each a read transaction of its own.
    position: Arc<AtomicU64>,
    /// Commits that changed what readers see, counted since the store was opened: the clock of
    /// the REST API's page cache.
    version: Arc<AtomicU64>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let db = Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::InUse {
                path: path.to_path_buf(),
            },
            other => other.into(),
        })?;
        let position = position_in(&db.begin_read()?)?;
        Ok(Store {
            db: Arc::new(db),
            position: Arc::new(AtomicU64::new(position)),
            version: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Opens the database of the pipeline whose generated code has `fingerprint`. A database
    /// written by another version of the pipeline (its SQL or schemas changed) holds state the
    /// new operators cannot read, so it is removed and rebuilt from the sources; the returned
    /// flag says so.
    pub fn open_for(path: &Path, fingerprint: &str) -> Result<(Store, bool), StoreError> {
        let store = Store::open(path)?;
        let stored = {
            let txn = store.begin_read()?;
            match txn.open_table(PIPELINE) {
                Ok(table) => table.get(FINGERPRINT)?.map(|v| v.value().to_string()),
                Err(redb::TableError::TableDoesNotExist(_)) => None,
                Err(e) => return Err(e.into()),
            }
        };
        let has_data = stored.is_some() || store.position()? > 0;
        let rebuilt = has_data && stored.as_deref() != Some(fingerprint);
        let store = if rebuilt {
            drop(store);
            std::fs::remove_file(path).map_err(|source| StoreError::Io {
                path: path.to_path_buf(),
                source,
            })?;
            Store::open(path)?
        } else {
            store
        };
        let txn = store.begin_write()?;
        txn.open_table(PIPELINE)?.insert(FINGERPRINT, fingerprint)?;
        txn.commit()?;
        Ok((store, rebuilt))
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

    /// The number of commits of source transactions so far: the position API responses report.
    pub fn position(&self) -> Result<u64, StoreError> {
        Ok(self.position.load(Ordering::Acquire))
    }

    /// Commits `txn`, which applied source transactions, as the next position; returns it.
    pub(crate) fn commit(&self, txn: WriteTransaction) -> Result<u64, StoreError> {
        let position = bump_position(&txn)?;
        txn.commit()?;
        self.position.store(position, Ordering::Release);
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(position)
    }

    /// Commits `txn`, which changed results without applying a source transaction (the
    /// results over no input), leaving the position where it was.
    pub(crate) fn commit_unpositioned(&self, txn: WriteTransaction) -> Result<(), StoreError> {
        txn.commit()?;
        self.version.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// The number of commits readers can see made through this store since it was opened
    /// ([`Store::commit`] and [`Store::commit_unpositioned`]): a read that starts after
    /// reading `n` here sees every change committed up to the `n`th.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }
}

/// The number of source transactions committed, as `txn` sees it: the commit a read in `txn`
/// reflects.
pub fn position_in(txn: &redb::ReadTransaction) -> Result<u64, StoreError> {
    match txn.open_table(META) {
        Ok(table) => Ok(table.get(POSITION)?.map(|v| v.value()).unwrap_or(0)),
        Err(redb::TableError::TableDoesNotExist(_)) => Ok(0),
        Err(e) => Err(e.into()),
    }
}

/// The stored position of Postgres connection `connection` (`None`: never snapshotted).
pub fn read_source_lsn(
    txn: &WriteTransaction,
    connection: &str,
) -> Result<Option<u64>, StoreError> {
    let table = txn.open_table(SOURCE_LSN)?;
    let lsn = table.get(connection)?.map(|v| v.value());
    Ok(lsn)
}

/// Records, inside the transaction that applies it, the end of a Postgres source transaction.
pub(crate) fn write_source_lsn(
    txn: &WriteTransaction,
    connection: &str,
    lsn: u64,
) -> Result<(), StoreError> {
    txn.open_table(SOURCE_LSN)?.insert(connection, lsn)?;
    Ok(())
}

/// The replication slot of `connection`: the stored one, or `proposed` (then stored), so a
/// database keeps reading the slot its state was built from.
pub fn replication_slot(
    txn: &WriteTransaction,
    connection: &str,
    proposed: impl FnOnce() -> String,
) -> Result<String, StoreError> {
    let mut table = txn.open_table(SLOTS)?;
    let stored = table.get(connection)?.map(|v| v.value().to_string());
    match stored {
        Some(slot) => Ok(slot),
        None => {
            let slot = proposed();
            table.insert(connection, slot.as_str())?;
            Ok(slot)
        }
    }
}

pub fn read_position(txn: &ReadTransaction) -> Result<u64, StoreError> {
    let table = txn.open_table(META)?;
    Ok(table.get(POSITION)?.map(|v| v.value()).unwrap_or(0))
}

/// Advances the commit position inside the transaction that applies a source transaction.
fn bump_position(txn: &WriteTransaction) -> Result<u64, StoreError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_pipeline_rebuilds_the_database() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.redb");
        let (store, rebuilt) = Store::open_for(&path, "v1").unwrap();
        assert!(!rebuilt);
        store.create_tables(&[]).unwrap();
        let txn = store.begin_write().unwrap();
        assert_eq!(store.commit(txn).unwrap(), 1);
        assert_eq!(store.position().unwrap(), 1);
        drop(store);

        let (store, rebuilt) = Store::open_for(&path, "v1").unwrap();
        assert!(!rebuilt);
        assert_eq!(store.position().unwrap(), 1, "same pipeline: state kept");
        drop(store);

        let (store, rebuilt) = Store::open_for(&path, "v2").unwrap();
        assert!(rebuilt);
        assert_eq!(
            store.position().unwrap(),
            0,
            "new pipeline: rebuilt from the sources"
        );
    }
}
