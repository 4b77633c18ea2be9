//! gRPC of the emitted crate: one `.proto` per endpoint (package `dozer.generated.<endpoint>`,
//! a typed record message and a service with `query`, `count` and `OnEvent`), the shared
//! protos, their Rust stubs (generated here with protox and tonic-prost-build, so nobody needs
//! protoc) and `src/grpc.rs`, which implements each service over the runtime's
//! `TypedService`.

mod proto;
mod services;
mod stubs;

use super::names::{field_name, UniqueNames};
use super::Names;
use crate::diagnostics::CompileError;
use crate::plan::{Column, Pipeline};
use heck::{ToSnakeCase, ToUpperCamelCase};
use std::path::PathBuf;

/// The shared protos, as the runtime compiles them.
pub const TYPES_PROTO: &str = include_str!("../../../../runtime/proto/dozer/types.proto");
pub const COMMON_PROTO: &str = include_str!("../../../../runtime/proto/dozer/common.proto");

/// Messages every endpoint package defines besides its record.
const FIXED_MESSAGES: &[&str] = &[
    "QueryRequest",
    "QueryResponse",
    "CountResponse",
    "EventRequest",
    "Event",
];

/// Names chosen for one endpoint's gRPC package.
pub struct GrpcNames {
    /// The last part of the package, and the Rust module of its stubs: `customer_lifetime_value`.
    pub module: String,
    /// The record message, e.g. `CustomerLifetimeValue`.
    pub message: String,
    /// The service, e.g. `CustomerLifetimeValueService`.
    pub service: String,
    /// The record's proto field names (snake_case), one per column.
    pub fields: Vec<String>,
}

impl GrpcNames {
    pub fn new(p: &Pipeline) -> Vec<GrpcNames> {
        let mut modules = UniqueNames::default().reserving(&["types", "common"]);
        p.endpoints
            .iter()
            .map(|e| {
                let mut module = field_name(&e.name);
                if !module.starts_with(|c: char| c.is_ascii_alphabetic()) {
                    module.insert(0, 'e');
                }
                let module = modules.unique(module);
                // Names prost keeps as they are, so the Rust names are known: from the
                // module (unique, starting with a letter), in prost's UpperCamelCase.
                let mut message = prost_fixed_point(&module);
                if FIXED_MESSAGES.contains(&message.as_str()) {
                    message.push_str("Record");
                }
                let service = prost_fixed_point(&format!("{message}Service"));
                GrpcNames {
                    module,
                    message,
                    service,
                    fields: proto_field_names(p.columns(e.table)),
                }
            })
            .collect()
    }

    /// The proto package.
    pub fn package(&self) -> String {
        format!("dozer.generated.{}", self.module)
    }

    /// The proto file's path in `proto/` (and its import name).
    pub fn proto_path(&self) -> String {
        format!("dozer/generated/{}.proto", self.module)
    }
}

/// Proto field names: snake_case, starting with a letter, unique.
fn proto_field_names(columns: &[Column]) -> Vec<String> {
    let mut names = UniqueNames::default();
    columns
        .iter()
        .map(|c| {
            let mut name = field_name(&c.name).trim_start_matches('_').to_string();
            if !name.starts_with(|ch: char| ch.is_ascii_alphabetic()) {
                name.insert(0, 'f');
            }
            names.unique(name)
        })
        .collect()
}

/// The Rust name prost gives a proto field (its `to_snake` and keyword escaping).
pub fn prost_field(name: &str) -> proc_macro2::Ident {
    let snake = name.to_snake_case();
    match snake.as_str() {
        "self" | "super" | "crate" | "Self" | "extern" | "_" => {
            quote::format_ident!("{}_", snake)
        }
        _ => super::names::ident(&snake),
    }
}

/// The Rust name prost gives a proto message or service.
pub fn prost_type(name: &str) -> proc_macro2::Ident {
    quote::format_ident!("{}", name.to_upper_camel_case())
}

/// `name` in UpperCamelCase as prost writes it, repeated until stable (`x_y` → `XY` → `Xy`).
fn prost_fixed_point(name: &str) -> String {
    let mut current = name.to_upper_camel_case();
    loop {
        let next = current.to_upper_camel_case();
        if next == current {
            return current;
        }
        current = next;
    }
}

/// tonic's module name for a service's server: `FooBarService` → `foo_bar_service_server`.
pub fn server_module(service: &str) -> proc_macro2::Ident {
    let mut snake = String::new();
    let mut chars = service.chars().peekable();
    while let Some(c) = chars.next() {
        snake.push(c.to_ascii_lowercase());
        if chars.peek().is_some_and(|next| next.is_uppercase()) {
            snake.push('_');
        }
    }
    quote::format_ident!("{snake}_server")
}

/// The gRPC files of the crate: `proto/**.proto`, `src/proto.rs` (stubs), `src/grpc.rs`
/// (services) and `src/descriptor.bin` (for reflection).
pub fn grpc_files(
    p: &Pipeline,
    names: &Names,
    config_name: &str,
) -> Result<GeneratedGrpc, CompileError> {
    let grpc = GrpcNames::new(p);
    let mut protos = vec![
        ("dozer/types.proto".to_string(), TYPES_PROTO.to_string()),
        ("dozer/common.proto".to_string(), COMMON_PROTO.to_string()),
    ];
    for (i, g) in grpc.iter().enumerate() {
        protos.push((g.proto_path(), proto::endpoint_proto(p, i, g, config_name)));
    }
    let stubs = stubs::compile(&protos, &grpc)?;
    Ok(GeneratedGrpc {
        protos: protos
            .into_iter()
            .map(|(path, text)| (PathBuf::from("proto").join(path), text))
            .collect(),
        stubs: stubs.rust,
        descriptor_set: stubs.descriptor_set,
        services: services::grpc_file(p, names, &grpc),
    })
}

/// What [`grpc_files`] produces.
pub struct GeneratedGrpc {
    /// `proto/...` files, for clients.
    pub protos: Vec<(PathBuf, String)>,
    /// `src/proto.rs`: one module per endpoint package.
    pub stubs: proc_macro2::TokenStream,
    /// The encoded `FileDescriptorSet` of every proto.
    pub descriptor_set: Vec<u8>,
    /// `src/grpc.rs`.
    pub services: proc_macro2::TokenStream,
}
