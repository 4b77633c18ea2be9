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
    compile_with(path, catalog::CatalogOptions::default())
}

/// As [`compile`], with catalog options.
pub fn compile_with(
    path: &Path,
    options: catalog::CatalogOptions,
) -> Result<Compiled, CompileError> {
    compile_loaded_with(config::load(path)?, options)
}

/// Resolves and binds an already loaded config.
pub fn compile_loaded(config: LoadedConfig) -> Result<Compiled, CompileError> {
    compile_loaded_with(config, catalog::CatalogOptions::default())
}

/// As [`compile_loaded`], with catalog options (`--refresh-schema`).
pub fn compile_loaded_with(
    config: LoadedConfig,
    options: catalog::CatalogOptions,
) -> Result<Compiled, CompileError> {
    let sources = catalog::resolve_with(&config, options)?;
    let pipeline = sql::compile(&config, sources.iter().map(|s| s.table.clone()).collect())?;
    Ok(Compiled {
        config,
        sources,
        pipeline,
    })
}
