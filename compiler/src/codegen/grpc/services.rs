//! `src/grpc.rs` of the emitted crate: each endpoint's typed service, delegating to the
//! runtime's `TypedService`, and the conversion of its records into the service's messages.

use super::proto::is_message;
use super::{prost_field, prost_type, server_module, GrpcNames};
use crate::codegen::names::ident;
use crate::codegen::Names;
use crate::plan::Pipeline;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

pub fn grpc_file(p: &Pipeline, names: &Names, grpc: &[GrpcNames]) -> TokenStream {
    let mut adds = Vec::new();
    let mut items = Vec::new();
    for ((e, n), g) in p.endpoints.iter().zip(&names.endpoints).zip(grpc) {
        let table = names.table(e.table);
        let row = format_ident!("{}", table.row_type);
        let key = table.key_tokens();
        let key_path = if table.key_type == "RecordId" {
            quote!(RecordId)
        } else {
            quote!(crate::pipeline::#key)
        };
        let row_path = quote!(crate::records::#row);
        let decl = format_ident!("{}", n.decl);
        let module = ident(&g.module);
        let message = prost_type(&g.message);
        let service_trait = prost_type(&g.service);
        let server_module = server_module(&g.service);
        let server = format_ident!("{}Server", g.service);
        // From the module, which is unique: endpoints named alike share a service name.
        let service = format_ident!(
            "{}Grpc",
            heck::ToUpperCamelCase::to_upper_camel_case(g.module.as_str())
        );
        let convert = format_ident!("{}_message", g.module);
        let var = format_ident!("{}_endpoint", g.module);

        adds.push(quote! {
            let #var = Arc::new(TypedEndpoint::<#key_path, #row_path>::new(ctx.store.clone(), endpoints::#decl));
            services.add(
                proto::#module::#server_module::#server::new(#service(TypedService::new(ctx, #var.clone()))),
                #var,
            );
        });

        let columns = p.columns(e.table);
        let fields = columns.iter().zip(&table.fields).zip(&g.fields).map(
            |((column, rust), proto)| {
                let (rust, proto) = (ident(rust), prost_field(proto));
                if column.nullable || is_message(column.ty) {
                    quote!(#proto: row.#rust.as_ref().map(ToProto::to_proto))
                } else {
                    quote!(#proto: row.#rust.as_ref().map(ToProto::to_proto).unwrap_or_default())
                }
            },
        );
        let service_doc = format!(
            " `{}` (`{}`): the typed service `{}.{}` over the endpoint's cache.",
            e.name,
            e.path,
            g.package(),
            g.service
        );
        let convert_doc = format!(
            " A row of `{}` as a `{}` message.",
            p.table_name(e.table),
            g.message
        );
        items.push(quote! {
            #[doc = #service_doc]
            pub struct #service(TypedService<#key_path, #row_path>);

            dozer_runtime::typed_service!(#service, proto::#module, #server_module::#service_trait, #convert);

            #[doc = #convert_doc]
            fn #convert(row: &#row_path) -> proto::#module::#message {
                proto::#module::#message {
                    #( #fields, )*
                }
            }
        });
    }
    let ctx_param = if p.endpoints.is_empty() {
        quote!(_ctx)
    } else {
        quote!(ctx)
    };
    let mutable = (!p.endpoints.is_empty()).then(|| quote!(mut));
    let imports = (!p.endpoints.is_empty()).then(|| {
        quote! {
            use crate::{endpoints, proto};
            use dozer_runtime::grpc::{ToProto, TypedService};
            use dozer_runtime::prelude::*;
        }
    });
    quote! {
        #imports
        use dozer_runtime::grpc::{GrpcContext, GrpcServices};

        /// The encoded descriptors of every proto in `proto/`, for server reflection.
        const DESCRIPTOR_SET: &[u8] = include_bytes!("descriptor.bin");

        /// Every endpoint's typed service (the runtime adds the common service, health and
        /// reflection).
        pub fn services(#ctx_param: &GrpcContext) -> GrpcServices {
            let #mutable services = GrpcServices::new(DESCRIPTOR_SET);
            #( #adds )*
            services
        }

        #( #items )*
    }
}
