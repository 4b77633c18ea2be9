//! `dozerc clean`: remove the emitted crate and the cache of a config.

use crate::diagnostics::render;
use std::path::Path;

pub fn clean(config: &Path) -> Result<(), String> {
    let loaded = crate::config::load(config).map_err(|e| render(&e))?;
    let home = loaded.home_dir();
    for dir in [home.join("build"), home.join("cache")] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
            println!("removed {}", dir.display());
        }
    }
    Ok(())
}
