//! The OpenAPI 3.0.3 document served at `/openapi.json`: per endpoint its four operations, the
//! schema of its rows as they are really serialized, and the schema of its query body, so that
//! clients can be generated from it.

use super::position::POSITION_HEADER;
use super::query::{DEFAULT_LIMIT, MAX_LIMIT};
use super::rest::{NEXT_CURSOR_HEADER, ROWS_SCANNED_HEADER};
use super::{EndpointApi, EndpointDecl};
use crate::types::{FieldDef, FieldType};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// The OpenAPI document of an app's endpoints; `secured`: JWT security is on.
pub fn document(app_name: &str, endpoints: &[Arc<dyn EndpointApi>], secured: bool) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    schemas.insert("Error".into(), error_schema());
    paths.insert("/health".into(), health_path());
    for endpoint in endpoints {
        let decl = endpoint.decl();
        let name = schema_name(decl.name);
        schemas.insert(name.clone(), row_schema(decl));
        schemas.insert(format!("{name}Filter"), filter_schema(decl, &name));
        schemas.insert(format!("{name}Query"), query_schema(decl, &name));
        endpoint_paths(decl, &name, &mut paths);
    }
    let mut document = json!({
        "openapi": "3.0.3",
        "info": {
            "title": app_name,
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Endpoints of a pipeline compiled by dozerc. Every response carries \
                `x-dozer-position`: the number of source transactions committed when it was read, \
                then `connection=LSN` per Postgres connection. A request with `x-dozer-wait-for: \
                LSN` (or `connection=LSN`, comma-separated) is answered once that position is \
                applied, or with 504 after `x-dozer-wait-timeout-ms` (default 10000).",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "headers": {
                "Position": { "description": "Commits and Postgres positions reflected by the response (at least), e.g. `42 pg=0/1A2B3C40`.", "schema": { "type": "string" } },
                "RowsScanned": { "description": "Rows, or secondary index entries, read to answer: far below the table's size when an index served the request.", "schema": { "type": "integer", "minimum": 0 } },
                "NextCursor": { "description": "Present when the page is full: send it as `$after` (or `?after=`) with the same `$filter` and `$order_by` for the next page. Opaque.", "schema": { "type": "string" } },
            },
            "responses": {
                "BadRequest": error_response("The request is malformed; the message names the bad part."),
                "NotFound": error_response("No such record."),
            },
        },
    });
    if secured {
        secure(&mut document);
    }
    document
}

/// Declares the bearer scheme, requires it everywhere but `/health`, and adds the 401 and 403
/// answers to the operations that need a token.
fn secure(document: &mut Value) {
    document["components"]["securitySchemes"] = json!({
        "bearerAuth": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An HS256 token signed with the API's secret (`dozerc token`). Its \
                `access` claim is `\"All\"` or `{\"Custom\": {\"<endpoint>\": {\"filter\": <$filter>}}}`: \
                other endpoints answer 403, and only rows passing the filter are seen.",
        }
    });
    document["security"] = json!([{ "bearerAuth": [] }]);
    let responses = &mut document["components"]["responses"];
    responses["Unauthorized"] = error_response(
        "No valid token (missing, malformed, wrongly signed or expired); the message says which.",
    );
    responses["Forbidden"] = error_response("The token does not grant this endpoint.");
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(operations) = item.as_object_mut() else {
            continue;
        };
        for operation in operations.values_mut() {
            if path == "/health" {
                operation["security"] = json!([]);
                continue;
            }
            let responses = &mut operation["responses"];
            responses["401"] = json!({ "$ref": "#/components/responses/Unauthorized" });
            responses["403"] = json!({ "$ref": "#/components/responses/Forbidden" });
        }
    }
}

/// Component names allow `[A-Za-z0-9._-]` only.
fn schema_name(endpoint: &str) -> String {
    endpoint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": { "error": {
            "type": "object",
            "required": ["status", "message"],
            "properties": { "status": { "type": "integer" }, "message": { "type": "string" } },
        }},
    })
}

fn error_response(description: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": reference("Error") } } })
}

/// A 200 response with `schema`, documenting the position header.
fn ok(description: &str, schema: Value) -> Value {
    json!({
        "description": description,
        "headers": { POSITION_HEADER.as_str(): { "$ref": "#/components/headers/Position" } },
        "content": { "application/json": { "schema": schema } },
    })
}

/// A 200 response that reports the rows scanned, and (for a page) the next cursor.
fn ok_scanned(description: &str, schema: Value, paged: bool) -> Value {
    let mut response = ok(description, schema);
    let headers = &mut response["headers"];
    headers[ROWS_SCANNED_HEADER.as_str()] = json!({ "$ref": "#/components/headers/RowsScanned" });
    if paged {
        headers[NEXT_CURSOR_HEADER.as_str()] = json!({ "$ref": "#/components/headers/NextCursor" });
    }
    response
}

fn health_path() -> Value {
    let schema = json!({
        "type": "object",
        "properties": { "status": { "type": "string", "enum": ["SERVING"] }, "position": { "type": "integer", "minimum": 0 }, "ready": { "type": "boolean", "description": "Whether the snapshot is in: every file found at the start and every Postgres connection's snapshot." }, "postgres": { "type": "object", "description": "Per Postgres connection, the LSN applied.", "additionalProperties": { "type": "string" } }, "files": { "type": "object", "description": "Per file source, the files committed.", "additionalProperties": { "type": "integer" } } },
    });
    json!({ "get": { "operationId": "health", "summary": "Liveness and commit position", "responses": { "200": ok("Serving", schema) } } })
}

/// The JSON schema of one column as `serde_json` really writes it.
fn field_schema(field: &FieldDef) -> Value {
    let mut schema = match field.ty {
        FieldType::Int => json!({ "type": "integer", "format": "int64" }),
        FieldType::UInt => json!({ "type": "integer", "format": "uint64", "minimum": 0 }),
        // serde_json has no NaN or infinities: it writes them as null.
        FieldType::Float => json!({ "type": "number", "format": "double", "nullable": true,
            "description": "NaN and infinities are returned as null" }),
        // rust_decimal's `serde-str`: exact, as a string.
        FieldType::Decimal => json!({ "type": "string", "format": "decimal", "example": "12.50" }),
        FieldType::Boolean => json!({ "type": "boolean" }),
        FieldType::String | FieldType::Text => json!({ "type": "string" }),
        FieldType::Date => json!({ "type": "string", "format": "date" }),
        FieldType::Timestamp => json!({ "type": "string", "format": "date-time" }),
        FieldType::Json => json!({ "description": "any JSON value" }),
        // serde writes a `Vec<u8>` as an array of byte values.
        FieldType::Binary => {
            json!({ "type": "array", "items": { "type": "integer", "minimum": 0, "maximum": 255 } })
        }
    };
    if field.nullable {
        schema["nullable"] = Value::Bool(true);
    }
    schema
}

/// The schema of a value in `$filter`, as `Value::from_json` accepts it: numbers may also be
/// given as strings, Binary as hex text, and null always means `IS NULL`.
fn filter_value_schema(field: &FieldDef) -> Value {
    let mut schema = match field.ty {
        FieldType::Decimal => {
            json!({ "anyOf": [{ "type": "string", "format": "decimal" }, { "type": "number" }] })
        }
        FieldType::Binary => {
            json!({ "type": "string", "description": "hex, optionally prefixed by \\x" })
        }
        FieldType::Json => return json!({ "description": "any JSON value" }),
        _ => field_schema(field),
    };
    schema["nullable"] = Value::Bool(true);
    schema
}

fn row_schema(decl: &EndpointDecl) -> Value {
    let properties: Map<String, Value> = decl
        .fields
        .iter()
        .map(|f| (f.name.to_string(), field_schema(f)))
        .collect();
    let required: Vec<&str> = decl.fields.iter().map(|f| f.name).collect();
    json!({ "type": "object", "properties": properties, "required": required })
}

fn filter_schema(decl: &EndpointDecl, name: &str) -> Value {
    let mut properties = Map::new();
    for field in decl.fields {
        let value = filter_value_schema(field);
        let mut operators: Map<String, Value> = ["$eq", "$ne", "$lt", "$lte", "$gt", "$gte"]
            .iter()
            .map(|op| (op.to_string(), value.clone()))
            .collect();
        operators.insert("$in".into(), json!({ "type": "array", "items": value }));
        let condition =
            json!({ "type": "object", "properties": operators, "additionalProperties": false });
        properties.insert(
            field.name.to_string(),
            json!({ "anyOf": [value, condition] }),
        );
    }
    let nested = json!({ "type": "array", "items": reference(&format!("{name}Filter")) });
    properties.insert("$and".into(), nested.clone());
    properties.insert("$or".into(), nested);
    json!({
        "type": "object",
        "description": "Keys are ANDed. `{\"field\": value}` is `$eq`; comparisons with NULL never match, \
            except `$eq: null` (IS NULL) and `$ne: null` (IS NOT NULL). Field names are case-insensitive.",
        "properties": properties,
        "additionalProperties": false,
    })
}

fn query_schema(decl: &EndpointDecl, name: &str) -> Value {
    let directions: Map<String, Value> = decl
        .fields
        .iter()
        .filter(|f| f.ty != FieldType::Json)
        .map(|f| {
            (
                f.name.to_string(),
                json!({ "type": "string", "enum": ["asc", "desc"] }),
            )
        })
        .collect();
    let order =
        json!({ "type": "object", "properties": directions, "additionalProperties": false });
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "$filter": reference(&format!("{name}Filter")),
            "$order_by": {
                "description": "Sort keys in order (ties: primary key order). NULLs sort last ascending, first descending.",
                "anyOf": [order.clone(), { "type": "array", "items": order }],
            },
            "$limit": { "type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT },
            "$skip": { "type": "integer", "minimum": 0, "default": 0 },
            "$after": {
                "type": "string",
                "description": "The `x-dozer-next-cursor` of the previous page: the page starts right after its last row, however rows changed in between. Needs the same `$order_by`; cannot be combined with `$skip`.",
            },
        },
    })
}

fn endpoint_paths(decl: &EndpointDecl, name: &str, paths: &mut Map<String, Value>) {
    let base = decl.path.trim_end_matches('/');
    let endpoint = decl.name;
    let rows = json!({ "type": "array", "items": reference(name) });
    let body = json!({
        "required": false,
        "content": { "application/json": { "schema": reference(&format!("{name}Query")) } },
    });
    let bad_request = json!({ "$ref": "#/components/responses/BadRequest" });
    let paging = |what: &str, default: usize| {
        json!({ "name": what, "in": "query", "required": false,
                "schema": { "type": "integer", "minimum": 0, "maximum": MAX_LIMIT, "default": default } })
    };
    let key = if decl.primary_key.is_empty() {
        "the record id".to_string()
    } else {
        decl.primary_key.join(", ")
    };
    paths.insert(
        base.to_string(),
        json!({ "get": {
            "operationId": format!("list_{endpoint}"),
            "summary": format!("The first records of `{endpoint}`, in primary key order"),
            "parameters": [paging("limit", DEFAULT_LIMIT), paging("skip", 0),
                { "name": "after", "in": "query", "required": false, "schema": { "type": "string" },
                  "description": "The `x-dozer-next-cursor` of the previous page" }],
            "responses": { "200": ok_scanned("Records", rows.clone(), true), "400": bad_request },
        }}),
    );
    paths.insert(format!("{base}/{{id}}"), json!({ "get": {
        "operationId": format!("get_{endpoint}"),
        "summary": format!("One record of `{endpoint}` by primary key"),
        "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" },
            "description": format!("The value of {key}; comma-separated for a composite key; `null` for NULL") }],
        "responses": { "200": ok("The record", reference(name)), "400": bad_request,
            "404": { "$ref": "#/components/responses/NotFound" } },
    }}));
    paths.insert(
        format!("{base}/query"),
        json!({ "post": {
            "operationId": format!("query_{endpoint}"),
            "summary": format!("Records of `{endpoint}` matching a query"),
            "requestBody": body,
            "responses": { "200": ok_scanned("Records", rows, true), "400": bad_request },
        }}),
    );
    paths.insert(format!("{base}/count"), json!({ "post": {
        "operationId": format!("count_{endpoint}"),
        "summary": format!("The number of records of `{endpoint}` matching a query's filter"),
        "requestBody": body,
        "responses": { "200": ok_scanned("Count", json!({ "type": "integer", "minimum": 0 }), false), "400": bad_request },
    }}));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_match_how_rows_serialize() {
        let f = |ty, nullable| field_schema(&FieldDef::new("x", ty, nullable));
        assert_eq!(
            f(FieldType::Int, false),
            json!({"type": "integer", "format": "int64"})
        );
        assert_eq!(f(FieldType::Decimal, true)["type"], "string");
        assert_eq!(f(FieldType::Decimal, true)["nullable"], true);
        assert_eq!(
            f(FieldType::Float, false)["nullable"],
            true,
            "NaN serializes as null"
        );
        assert_eq!(f(FieldType::Timestamp, false)["format"], "date-time");
        assert_eq!(
            f(FieldType::Json, false),
            json!({"description": "any JSON value"})
        );
        // Check the Binary and Decimal claims against serde itself.
        assert_eq!(
            serde_json::to_value(vec![1u8, 255]).unwrap(),
            json!([1, 255])
        );
        assert_eq!(
            serde_json::to_value(crate::types::Decimal::new(1250, 2)).unwrap(),
            json!("12.50")
        );
        assert_eq!(
            serde_json::to_value(crate::types::Float(f64::NAN)).unwrap(),
            Value::Null
        );
        assert_eq!(f(FieldType::Binary, false)["type"], "array");
    }

    #[test]
    fn security_is_declared_only_when_on() {
        let open = document("shop", &[], false);
        assert!(open.get("security").is_none());
        assert!(open["components"].get("securitySchemes").is_none());
        let secured = document("shop", &[], true);
        assert_eq!(
            secured["components"]["securitySchemes"]["bearerAuth"]["scheme"],
            "bearer"
        );
        assert_eq!(secured["security"], json!([{ "bearerAuth": [] }]));
        assert_eq!(secured["paths"]["/health"]["get"]["security"], json!([]));
    }

    #[test]
    fn schema_names_are_valid_component_keys() {
        assert_eq!(schema_name("sales by-country.v2"), "sales_by-country.v2");
    }
}
