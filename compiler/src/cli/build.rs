//! `dozerc build` and `dozerc check`.

use super::paths::Paths;
use crate::catalog::{CatalogOptions, TypeOrigin};
use crate::codegen::{generate, write_crate, CrateOptions};
use crate::diagnostics::render;
use crate::plan::{Body, TableKey};
use crate::Compiled;
use std::path::{Path, PathBuf};

/// What `build` produced.
pub struct Built {
    pub out_dir: PathBuf,
    pub crate_name: String,
    pub target_dir: PathBuf,
    pub compiled: Compiled,
}

pub fn check(config: &Path, options: CatalogOptions) -> Result<(), String> {
    let compiled = crate::compile_with(config, options).map_err(|e| render(&e))?;
    report(&compiled);
    println!("{} is valid", compiled.config.file.name);
    Ok(())
}

pub fn build(config: &Path, out_dir: Option<&Path>) -> Result<Built, String> {
    build_with(config, out_dir, CatalogOptions::default())
}

/// `dozerc build` with catalog options (`--refresh-schema`).
pub fn build_with(
    config: &Path,
    out_dir: Option<&Path>,
    options: CatalogOptions,
) -> Result<Built, String> {
    let compiled = crate::compile_with(config, options).map_err(|e| render(&e))?;
    report(&compiled);
    let home_dir = compiled.config.home_dir();
    let paths = Paths::discover(&home_dir)?;
    let out_dir = match out_dir {
        Some(dir) => dir.to_path_buf(),
        None => home_dir
            .join("build")
            .join(&compiled.config.config.app_name),
    };
    let (rest, grpc) = (
        &compiled.config.config.api.rest,
        &compiled.config.config.api.grpc,
    );
    let options = CrateOptions {
        config_name: compiled.config.file.name.clone(),
        runtime_path: paths.runtime.clone(),
        target_dir: paths.target_dir.clone(),
        home_dir,
        rest_host: rest.host.clone(),
        rest_port: rest.port,
        grpc_host: grpc.host.clone(),
        grpc_port: grpc.port,
        jwt_secret: compiled
            .config
            .config
            .api
            .api_security
            .as_ref()
            .map(|s| s.jwt_secret().to_string()),
    };
    let generated = generate(&compiled.pipeline, &options).map_err(|e| render(&e))?;
    write_crate(&generated, &out_dir).map_err(|e| render(&e))?;
    println!(
        "wrote crate `{}` to {}",
        generated.crate_name,
        out_dir.display()
    );
    println!(
        "run it:  (cd {} && cargo run --release)   or:  dozerc run -c {}",
        out_dir.display(),
        config.display()
    );
    Ok(Built {
        out_dir,
        crate_name: generated.crate_name,
        target_dir: paths.target_dir,
        compiled,
    })
}

/// Prints the sources' columns (with inferred types marked) and the result tables.
fn report(c: &Compiled) {
    for source in &c.sources {
        println!(
            "source `{}` ({}):",
            source.table.name, source.table.location
        );
        for (column, origin) in source.table.columns.iter().zip(&source.origins) {
            let how = match origin {
                TypeOrigin::Declared => "declared",
                TypeOrigin::Inferred => "inferred",
            };
            println!("  {:<24} {:<10} {how}", column.name, column.ty.name());
        }
    }
    for statement in &c.pipeline.statements {
        let key = match &statement.key {
            TableKey::Join(..) => "the joined rows' keys".to_string(),
            TableKey::Union(..) => "the branch and the row's key in it".to_string(),
            key => format!("[{}]", key.column_names(&statement.columns).join(", ")),
        };
        let columns: Vec<String> = statement
            .columns
            .iter()
            .map(|c| format!("{} {}", c.name, c.ty))
            .collect();
        let role = match (&statement.body, statement.hidden) {
            (Body::Join(join), _) => format!(
                "{:?} join of `{}` and `{}`",
                join.kind,
                c.pipeline.table_name(statement.input),
                c.pipeline.table_name(join.right)
            ),
            (Body::Union { .. }, _) => "UNION ALL".to_string(),
            (_, true) => "step of a statement".to_string(),
            _ => "table".to_string(),
        };
        println!(
            "{role} `{}` ({}), key {key}",
            statement.name,
            columns.join(", "),
        );
    }
    for endpoint in &c.pipeline.endpoints {
        println!(
            "endpoint {} -> `{}`",
            endpoint.path,
            c.pipeline.table_name(endpoint.table)
        );
    }
}
