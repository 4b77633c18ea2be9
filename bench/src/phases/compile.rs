//! The compile loop: the seed pipeline's first build, the Postgres variant's build, and the
//! rebuild after a one-line SQL edit, each as `dozerc build` plus `cargo build`. The peer is
//! the floor of any rebuild: `cargo build` after touching the crate's `main.rs` with nothing
//! changed (compile and link the same code again).

use crate::env::Env;
use crate::pipeline::{build, cargo_build, Built};
use crate::report::{Report, Section};
use crate::stats::verdict;
use crate::Sizes;
use anyhow::{ensure, Context, Result};
use std::path::{Path, PathBuf};

/// The edited line: one more aggregate in `bestsellers`.
const LINE: &str = "SELECT StockCode, SUM(Quantity) AS BuyCount";
const EDITED: &str = "SELECT StockCode, SUM(Quantity) AS BuyCount, COUNT(*) AS Lines";
/// Target for the rebuild after a one-line edit, in seconds (issue 7).
const REBUILD_TARGET: f64 = 15.0;

/// Both pipelines, built.
pub struct Pipelines {
    /// The seed's pipeline on CSV files (examples/ecommerce/dozer-config.yaml).
    pub files: Built,
    /// The same over Postgres (examples/ecommerce/dozer-config.postgres.yaml).
    pub postgres: Built,
}

pub fn run(env: &Env, sizes: &Sizes, report: &mut Report, measure: bool) -> Result<Pipelines> {
    if sizes.cold_build && measure && env.pipelines_target.exists() {
        std::fs::remove_dir_all(&env.pipelines_target)?;
    }
    let configs = env.scratch("configs")?;
    let files_config = copy_config(env, &configs, "dozer-config.yaml")?;
    let postgres_config = copy_config(env, &configs, "dozer-config.postgres.yaml")?;
    std::fs::copy(
        env.root
            .join("examples/ecommerce/dozer-config.postgres.lock"),
        configs.join("dozer-config.postgres.lock"),
    )?;
    let crates = env.work.join("crates");
    println!("building the seed pipeline ({})", env.profile());
    let files = build(env, &files_config, &crates.join("ecommerce"))?;
    println!("building its Postgres variant");
    let postgres = build(env, &postgres_config, &crates.join("ecommerce_pg"))?;
    if !measure {
        return Ok(Pipelines { files, postgres });
    }

    println!("rebuilding after a one-line SQL edit");
    let original = std::fs::read_to_string(&files_config)?;
    ensure!(
        original.contains(LINE),
        "the seed config no longer has `{LINE}`"
    );
    std::fs::write(&files_config, original.replacen(LINE, EDITED, 1))?;
    let edited = build(env, &files_config, &files.crate_dir)?;
    std::fs::write(&files_config, &original)?;
    let reverted = build(env, &files_config, &files.crate_dir)?;

    let main_rs = files.crate_dir.join("src").join("main.rs");
    let text = std::fs::read_to_string(&main_rs)?;
    std::fs::write(&main_rs, text)?; // a new modification time, the same bytes
    let floor = Built {
        emit_seconds: 0.0,
        cargo_seconds: cargo_build(env, &files.crate_dir)?,
        ..files.clone()
    };

    let first = if sizes.cold_build {
        "first pipeline, empty target directory (cold)"
    } else {
        "first pipeline (target directory already warm: --quick)"
    };
    let mut section = Section::new(
        "The compile loop",
        &[
            "step",
            "dozerc build s",
            "cargo build s",
            "total s",
            "vs floor",
        ],
    );
    section.intro(format!(
        "The seed's pipeline (`examples/ecommerce/dozer-config.yaml`, four statements, four \
         endpoints) built as a user does: `dozerc build`, then `cargo build` of the emitted crate \
         ({} profile, the one `dozerc run` uses unless told `--dev`), in one shared target \
         directory. The one-line edit adds `COUNT(*) AS Lines` to `bestsellers`. The peer is the \
         floor of any rebuild: `cargo build` after touching the crate's `main.rs` (compile and \
         link the same crate again).",
        env.profile()
    ));
    let total = |b: &Built| b.emit_seconds + b.cargo_seconds;
    for (step, b) in [
        (first, &files),
        (
            "second pipeline (Postgres source: the runtime's Postgres feature and its dependencies compile now)",
            &postgres,
        ),
        ("rebuild after a one-line SQL edit", &edited),
        ("rebuild after reverting the edit", &reverted),
        ("floor: touch `main.rs`, rebuild (peer)", &floor),
    ] {
        section.row(vec![
            step.into(),
            format!("{:.2}", b.emit_seconds),
            format!("{:.1}", b.cargo_seconds),
            format!("{:.1}", total(b)),
            format!("{:.2}×", total(b) / total(&floor)),
        ]);
    }
    section.note(format!(
        "Target: the rebuild after a one-line SQL edit under {REBUILD_TARGET:.0} s: {} ({:.1} s).",
        verdict(total(&edited) < REBUILD_TARGET),
        total(&edited)
    ));
    report.add(section);
    Ok(Pipelines { files, postgres })
}

/// Copies an example config into the scratch folder, with an empty data folder beside it
/// (file sources are pointed elsewhere with `--source` at run time).
fn copy_config(env: &Env, dir: &Path, name: &str) -> Result<PathBuf> {
    let from = env.root.join("examples").join("ecommerce").join(name);
    let to = dir.join(name);
    std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
    std::fs::create_dir_all(dir.join("data").join("sales"))?;
    Ok(to)
}
