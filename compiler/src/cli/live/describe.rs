//! What the live page shows of a compiled pipeline: its graph (sources → statements →
//! endpoints), the source schemas and the endpoints with their gRPC services.

use crate::plan::{Input, Pipeline, SourceKind};
use crate::Compiled;
use serde_json::{json, Value};

/// The page's view of one compiled pipeline.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Description {
    pub app_name: String,
    pub graph: Value,
    pub sources: Value,
    pub endpoints: Value,
}

/// The id of a table's node: `source:<name>` or `statement:<name>`.
fn table_id(p: &Pipeline, table: Input) -> String {
    match table {
        Input::Source(i) => format!("source:{}", p.sources[i].name),
        Input::Statement(i) => format!("statement:{}", p.statements[i].name),
    }
}

pub fn describe(compiled: &Compiled) -> Description {
    let p = &compiled.pipeline;
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for source in &p.sources {
        nodes.push(json!({
            "id": format!("source:{}", source.name),
            "kind": "source",
            "name": source.name,
            "label": source.name,
        }));
    }
    for (i, statement) in p.statements.iter().enumerate() {
        let id = table_id(p, Input::Statement(i));
        nodes.push(json!({
            "id": id,
            "kind": "statement",
            "name": statement.name,
            "label": statement.name,
            "sql": statement.sql.trim(),
            "hidden": statement.hidden,
        }));
        for input in statement.inputs() {
            let edge = json!([table_id(p, input), id]);
            if !edges.contains(&edge) {
                edges.push(edge);
            }
        }
    }
    let services = crate::codegen::grpc_service_names(p);
    let mut endpoints = Vec::new();
    for (endpoint, service) in p.endpoints.iter().zip(services) {
        let id = format!("endpoint:{}", endpoint.name);
        nodes.push(json!({
            "id": id,
            "kind": "endpoint",
            "name": endpoint.name,
            "label": endpoint.path,
        }));
        edges.push(json!([table_id(p, endpoint.table), id]));
        let fields: Vec<Value> = p
            .columns(endpoint.table)
            .iter()
            .map(|c| json!({"name": c.name, "type": c.ty.to_string(), "nullable": c.nullable}))
            .collect();
        endpoints.push(json!({
            "name": endpoint.name,
            "path": endpoint.path,
            "grpc_service": service,
            "fields": fields,
        }));
    }
    let sources: Vec<Value> = p
        .sources
        .iter()
        .map(|s| {
            let origin = match &s.kind {
                SourceKind::Files { .. } => format!("files: {}", s.location),
                SourceKind::Postgres { .. } => format!("Postgres {}", s.location),
            };
            let columns: Vec<Value> = s
                .columns
                .iter()
                .map(|c| json!({"name": c.name, "type": c.ty.to_string(), "nullable": c.nullable}))
                .collect();
            json!({"name": s.name, "origin": origin, "columns": columns})
        })
        .collect();
    Description {
        app_name: p.app_name.clone(),
        graph: json!({"nodes": nodes, "edges": edges}),
        sources: Value::Array(sources),
        endpoints: Value::Array(endpoints),
    }
}
