//! `dozerc run`: emit, build with cargo, run in the foreground.

use super::build::build_with;
use crate::catalog::CatalogOptions;
use std::path::Path;
use std::process::Command;

pub fn run(
    config: &Path,
    dev: bool,
    options: CatalogOptions,
    args: &[String],
) -> Result<(), String> {
    let built = build_with(config, None, options)?;
    let profile = if dev { "debug" } else { "release" };
    println!("building the pipeline ({profile}) ...");
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string()));
    cargo
        .arg("build")
        .current_dir(&built.out_dir)
        .env("CARGO_TARGET_DIR", &built.target_dir);
    if !dev {
        cargo.arg("--release");
    }
    let status = cargo
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build failed in {} ({status})",
            built.out_dir.display()
        ));
    }
    let binary = built.target_dir.join(profile).join(&built.crate_name);
    // Ctrl-C reaches the pipeline too (same process group); wait for its clean shutdown.
    let _ = ctrlc::set_handler(|| {});
    let status = Command::new(&binary)
        .args(args)
        .status()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("the pipeline exited with {status}"))
    }
}
