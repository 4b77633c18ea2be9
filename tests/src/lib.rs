//! Test harness: emit a pipeline crate with the real compiler, build it with cargo, run it on
//! a free port, talk to it over HTTP, and ask a real Postgres for the expected answers.

pub mod cdc;
pub mod corpus;
pub mod ecommerce;
pub mod http;
pub mod oracle;
pub mod pipeline;
pub mod python;
pub mod shop;
pub mod statements;

use std::path::{Path, PathBuf};

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Copies a folder recursively (test fixtures into a temp dir).
pub fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
