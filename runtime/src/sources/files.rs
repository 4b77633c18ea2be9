//! Local files as a source, with object-store semantics: a table is a folder (every file with
//! the table's extension in it) or a glob; files are immutable, so a new file is new data.
//!
//! Position: the set of files already ingested, kept in the `source/<name>` table of the cache
//! database and written in the same transaction as the file's effects. On restart a file is
//! either fully applied and recorded, or neither, so nothing is ingested twice or lost.
//! A file is read only when its size and modification time did not change since the previous
//! poll, or it was last modified a while ago, so a file being copied in is not read half
//! (renaming into the folder is quickest).

use super::csv_file::read_csv;
use crate::cache::StoreError;
use crate::types::FieldDef;
use redb::{ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// A CSV table as the generated crate declares it (paths resolved by `dozerc` at build time).
#[derive(Clone, Copy, Debug)]
pub struct CsvTableSpec {
    /// The source's name in the config.
    pub source: &'static str,
    /// A folder, or a glob pattern, absolute.
    pub location: &'static str,
    /// The file extension in a folder, e.g. `.csv`.
    pub extension: &'static str,
    /// The columns the pipeline reads, in the order of the source record struct.
    pub fields: &'static [FieldDef],
}

/// What the source table remembers of one ingested file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct IngestedFile {
    /// The file's number within its table: part of every row's [`RecordId`].
    pub seq: u32,
    pub rows: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{file}:{line}:{column}: column `{field}`: {message}")]
    Parse {
        file: String,
        line: u64,
        column: usize,
        field: String,
        message: String,
    },
    #[error("{file}:{line}: malformed CSV: {message}")]
    Malformed {
        file: String,
        line: u64,
        message: String,
    },
    #[error(
        "{file}: no column `{column}` (the header has: {header}); the source schema expects it"
    )]
    MissingColumn {
        file: String,
        column: String,
        header: String,
    },
    #[error("the data folder {path} does not exist; create it or fix `details.path`/`path` in the config")]
    MissingFolder { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("bad glob pattern `{pattern}`: {message}")]
    Pattern { pattern: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A file table being followed.
pub struct FileSource {
    spec: CsvTableSpec,
    ingested: BTreeMap<String, IngestedFile>,
    /// Size and modification time of each not-yet-ingested file at the previous poll: a file is
    /// read only once they stopped changing, so a file still being copied in is not read half.
    sightings: HashMap<String, (u64, Option<SystemTime>)>,
}

fn table_name(source: &str) -> String {
    format!("source/{source}")
}

impl FileSource {
    /// Loads the files already ingested (from a previous run) out of the cache database.
    pub fn restore(spec: CsvTableSpec, txn: &WriteTransaction) -> Result<Self, SourceError> {
        let name = table_name(spec.source);
        let table = txn
            .open_table(TableDefinition::<&str, &[u8]>::new(&name))
            .map_err(StoreError::from)?;
        let mut ingested = BTreeMap::new();
        for entry in table.iter().map_err(StoreError::from)? {
            let (path, info) = entry.map_err(StoreError::from)?;
            let info: IngestedFile =
                postcard::from_bytes(info.value()).map_err(StoreError::from)?;
            ingested.insert(path.value().to_string(), info);
        }
        Ok(FileSource {
            spec,
            ingested,
            sightings: HashMap::new(),
        })
    }

    pub fn spec(&self) -> &CsvTableSpec {
        &self.spec
    }

    pub fn ingested_files(&self) -> usize {
        self.ingested.len()
    }

    /// Files never ingested whose size and modification time have not changed since the
    /// previous poll (so they are complete), in name order.
    pub fn new_files(&mut self) -> Result<Vec<PathBuf>, SourceError> {
        let candidates = self.unseen_files()?;
        let mut ready = Vec::new();
        let mut sightings = HashMap::new();
        for path in candidates {
            let key = path.display().to_string();
            let Ok(meta) = std::fs::metadata(&path) else {
                continue; // removed since listed
            };
            let now = (meta.len(), meta.modified().ok());
            if self.sightings.get(&key) == Some(&now) || settled(now.1) {
                ready.push(path);
            }
            sightings.insert(key, now);
        }
        self.sightings = sightings;
        Ok(ready)
    }

    /// Files present now that were never ingested, in name order.
    fn unseen_files(&self) -> Result<Vec<PathBuf>, SourceError> {
        let location = Path::new(self.spec.location);
        let mut files = if location.is_dir() {
            list_folder(location, self.spec.extension)?
        } else if is_glob(self.spec.location) {
            list_glob(self.spec.location)?
        } else {
            return Err(SourceError::MissingFolder {
                path: location.to_path_buf(),
            });
        };
        files.retain(|f| !self.ingested.contains_key(&f.display().to_string()));
        files.sort();
        Ok(files)
    }

    /// Decodes a new file, handing its rows to `on_chunk` in bounded chunks (see
    /// [`CHUNK_ROWS`](super::csv_file::CHUNK_ROWS)). Rows are keyed by the file's sequence
    /// number, returned with the row count.
    pub fn read<E: From<SourceError>>(
        &self,
        path: &Path,
        on_chunk: impl FnMut(super::TextRows) -> Result<(), E>,
    ) -> Result<(u32, u64), E> {
        let seq = self.next_seq();
        let rows = read_csv(path, seq, self.spec.fields, on_chunk)?;
        Ok((seq, rows))
    }

    fn next_seq(&self) -> u32 {
        self.ingested.values().map(|f| f.seq + 1).max().unwrap_or(1)
    }

    /// Records the file as ingested inside the transaction that applies its rows.
    pub fn mark_ingested(
        &mut self,
        txn: &WriteTransaction,
        path: &Path,
        seq: u32,
        rows: u64,
    ) -> Result<(), SourceError> {
        let name = table_name(self.spec.source);
        let key = path.display().to_string();
        let info = IngestedFile { seq, rows };
        let bytes = postcard::to_stdvec(&info).map_err(StoreError::from)?;
        let mut table = txn
            .open_table(TableDefinition::<&str, &[u8]>::new(&name))
            .map_err(StoreError::from)?;
        table
            .insert(key.as_str(), bytes.as_slice())
            .map_err(StoreError::from)?;
        self.ingested.insert(key, info);
        Ok(())
    }
}

/// How long a file must have gone unmodified to count as complete at its first sighting.
const SETTLED_AFTER: Duration = Duration::from_secs(2);

/// Whether a file last modified at `modified` is complete without waiting for the next poll: a
/// copy still under way keeps moving its modification time.
fn settled(modified: Option<SystemTime>) -> bool {
    modified
        .and_then(|m| m.elapsed().ok())
        .is_some_and(|age| age >= SETTLED_AFTER)
}

fn is_glob(location: &str) -> bool {
    location.contains(['*', '?', '['])
}

fn list_folder(dir: &Path, extension: &str) -> Result<Vec<PathBuf>, SourceError> {
    let io = |source| SourceError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let wanted = extension.trim_start_matches('.');
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == wanted) {
            files.push(path);
        }
    }
    Ok(files)
}

fn list_glob(pattern: &str) -> Result<Vec<PathBuf>, SourceError> {
    let paths = glob::glob(pattern).map_err(|e| SourceError::Pattern {
        pattern: pattern.to_string(),
        message: e.to_string(),
    })?;
    Ok(paths
        .filter_map(Result::ok)
        .filter(|p| p.is_file())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Store;
    use crate::types::{FieldDef, FieldType};

    const FIELDS: &[FieldDef] = &[FieldDef::new("a", FieldType::Int, true)];

    #[test]
    fn a_file_is_ready_once_it_stopped_growing() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let txn = store.begin_write().unwrap();
        let location: &'static str = Box::leak(data.display().to_string().into_boxed_str());
        let spec = CsvTableSpec {
            source: "t",
            location,
            extension: ".csv",
            fields: FIELDS,
        };
        let mut source = FileSource::restore(spec, &txn).unwrap();

        let file = data.join("a.csv");
        std::fs::write(&file, "a\n1\n").unwrap();
        assert!(
            source.new_files().unwrap().is_empty(),
            "first sighting: wait"
        );
        std::fs::write(&file, "a\n1\n2\n").unwrap();
        assert!(
            source.new_files().unwrap().is_empty(),
            "still growing: wait"
        );
        assert_eq!(
            source.new_files().unwrap(),
            std::slice::from_ref(&file),
            "unchanged since the last poll: ready"
        );
        source.mark_ingested(&txn, &file, 1, 2).unwrap();
        assert!(source.new_files().unwrap().is_empty(), "ingested once");

        // A file last modified a while ago is complete at its first sighting.
        let old = data.join("b.csv");
        std::fs::write(&old, "a\n3\n").unwrap();
        let past = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&old)
            .and_then(|f| f.set_modified(past))
            .unwrap();
        assert_eq!(source.new_files().unwrap(), std::slice::from_ref(&old));
    }
}
