//! `dozerc`: compiles a Dozer pipeline (`dozer-config.yaml`) into a standalone Rust crate.
//!
//! Phases, one folder each: [`config`] (YAML model with spans) → [`catalog`] (source schemas) →
//! [`sql`] (parse and bind SQL into the [`plan`]) → [`codegen`] (Rust, Cargo.toml) → [`cli`].

pub mod catalog;
pub mod cli;
pub mod codegen;
pub mod config;
pub mod diagnostics;
pub mod plan;
pub mod sql;

use catalog::ResolvedSource;
use config::LoadedConfig;
use diagnostics::CompileError;
use std::path::Path;

/// A config compiled as far as the plan: everything `check` validates.
pub struct Compiled {
    pub config: LoadedConfig,
    pub sources: Vec<ResolvedSource>,
    pub pipeline: plan::Pipeline,
}

/// Loads, resolves and binds a config file.
pub fn compile(path: &Path) -> Result<Compiled, CompileError> {
    let config = config::load(path)?;
    compile_loaded(config)
}

/// Resolves and binds an already loaded config.
pub fn compile_loaded(config: LoadedConfig) -> Result<Compiled, CompileError> {
    let sources = catalog::resolve(&config)?;
    let pipeline = sql::compile(&config, sources.iter().map(|s| s.table.clone()).collect())?;
    Ok(Compiled {
        config,
        sources,
        pipeline,
    })
}
