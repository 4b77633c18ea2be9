//! Where generated crates, their shared target directory and the runtime live.

use std::path::{Path, PathBuf};

/// Build locations for one config.
pub struct Paths {
    pub runtime: PathBuf,
    pub target_dir: PathBuf,
}

impl Paths {
    /// `DOZER_RUNTIME_PATH` or the runtime beside this compiler's sources; `DOZER_TARGET_DIR`
    /// or a per-user cache shared by every pipeline.
    pub fn discover(home_dir: &Path) -> Result<Paths, String> {
        let runtime = match std::env::var_os("DOZER_RUNTIME_PATH") {
            Some(p) => PathBuf::from(p),
            None => Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("runtime"),
        };
        let runtime = runtime.canonicalize().map_err(|_| {
            format!(
                "cannot find the dozer-runtime crate at {}; set DOZER_RUNTIME_PATH to its folder",
                runtime.display()
            )
        })?;
        let target_dir = match std::env::var_os("DOZER_TARGET_DIR") {
            Some(p) => absolute(PathBuf::from(p)),
            None => default_target_dir().unwrap_or_else(|| home_dir.join("target")),
        };
        Ok(Paths {
            runtime,
            target_dir,
        })
    }
}

fn default_target_dir() -> Option<PathBuf> {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(cache.join("dozerc").join("target"))
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|d| d.join(&path))
            .unwrap_or(path)
    }
}
