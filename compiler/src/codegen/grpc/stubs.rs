//! Rust stubs of the endpoint protos: protox compiles them (no protoc), tonic-prost-build
//! generates the messages and servers. The shared `dozer.types` package maps to the runtime's
//! copy, so records and positions are the same Rust types everywhere.

use super::GrpcNames;
use crate::diagnostics::CompileError;
use proc_macro2::TokenStream;
use prost::Message;
use protox::file::{ChainFileResolver, File, FileResolver, GoogleFileResolver};
use quote::quote;
use std::collections::BTreeMap;

pub struct Stubs {
    /// `src/proto.rs`: `pub mod <module> { ... }` per endpoint package.
    pub rust: TokenStream,
    pub descriptor_set: Vec<u8>,
}

/// Compiles `protos` (path, text) and generates the endpoint packages' Rust.
pub fn compile(protos: &[(String, String)], grpc: &[GrpcNames]) -> Result<Stubs, CompileError> {
    let internal = |what: &str, e: &dyn std::fmt::Display| {
        CompileError::new(format!(
            "internal error: dozerc generated gRPC protos that do not {what}: {e}"
        ))
    };
    let mut resolver = ChainFileResolver::new();
    resolver.add(InMemory(
        protos.iter().cloned().collect::<BTreeMap<String, String>>(),
    ));
    resolver.add(GoogleFileResolver::new());
    let mut compiler = protox::Compiler::with_file_resolver(resolver);
    // Comments become doc comments of the generated Rust.
    compiler.include_source_info(true).include_imports(true);
    let paths: Vec<&str> = protos.iter().map(|(path, _)| path.as_str()).collect();
    compiler
        .open_files(paths)
        .map_err(|e| internal("compile", &e))?;
    let files = compiler.file_descriptor_set();

    let out = tempfile::tempdir().map_err(|e| internal("generate (temporary folder)", &e))?;
    tonic_prost_build::configure()
        .build_client(false)
        .build_server(true)
        .out_dir(out.path())
        .extern_path(".dozer.types", "::dozer_runtime::grpc::types")
        .compile_fds(files.clone())
        .map_err(|e| internal("generate Rust", &e))?;

    let mut modules = Vec::new();
    for g in grpc {
        let path = out.path().join(format!("{}.rs", g.package()));
        let code = std::fs::read_to_string(&path).map_err(|e| internal("generate Rust", &e))?;
        let items: TokenStream = code.parse().map_err(|e| internal("parse as Rust", &e))?;
        let module = super::super::names::ident(&g.module);
        let doc = format!(
            " `{}`: messages and server of `{}`.",
            g.package(),
            g.service
        );
        modules.push(quote! {
            #[doc = #doc]
            #[allow(clippy::all, missing_docs)]
            pub mod #module {
                #items
            }
        });
    }
    // Reflection needs the descriptors without source info, but with every import.
    let mut compact = files;
    for file in &mut compact.file {
        file.source_code_info = None;
    }
    Ok(Stubs {
        rust: quote!( #( #modules )* ),
        descriptor_set: compact.encode_to_vec(),
    })
}

/// Serves the protos dozerc generated from memory.
struct InMemory(BTreeMap<String, String>);

impl FileResolver for InMemory {
    fn open_file(&self, name: &str) -> Result<File, protox::Error> {
        match self.0.get(name) {
            Some(source) => File::from_source(name, source),
            None => Err(protox::Error::file_not_found(name)),
        }
    }
}
