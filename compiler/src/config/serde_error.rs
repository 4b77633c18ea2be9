//! Turns serde_norway's errors into [`CompileError`]s that underline the
//! offending token and speak in terms of the config file.
//!
//! serde_norway prints e.g. "connections[0]: unknown variant `Postgress`,
//! expected `Postgres` or `LocalStorage` at line 3 column 5", pointing at the
//! enclosing item rather than the tag. We split off the path and the
//! position, recognise the common shapes (unknown variant, unknown field,
//! missing field, untagged enum value), reword them, and move the span onto
//! the token the user has to fix.

use super::index::SpanIndex;
use crate::diagnostics::{closest, one_of, CompileError, SourceFile, Span};

/// Dozer connection types dozerc does not implement (yet), so a valid Dozer
/// config gets "not supported yet" rather than "unknown".
const DOZER_CONNECTIONS: [&str; 14] = [
    "Ethereum",
    "Grpc",
    "MySQL",
    "Snowflake",
    "Kafka",
    "S3Storage",
    "DeltaLake",
    "MongoDB",
    "Dozer",
    "JavaScript",
    "Webhook",
    "Oracle",
    "Aerospike",
    "Mysql",
];

/// Dozer table formats dozerc does not implement (yet).
const DOZER_FORMATS: [&str; 2] = ["Parquet", "Delta"];

/// `api.api_security`'s kind; its value is a secret.
const SECURITY: &str = "API security kind";

/// What a tagged enum in the model stands for, recognised by its variants.
struct TagKind {
    /// E.g. "connection type".
    what: &'static str,
    variants: &'static [&'static str],
    /// How the user writes it, for helps.
    example: &'static str,
    unsupported: &'static [&'static str],
    /// Whether serde's error path is where this kind's tag goes.
    at: fn(&str) -> bool,
}

const KINDS: [TagKind; 4] = [
    TagKind {
        what: "connection type",
        variants: &["Postgres", "LocalStorage"],
        example: "config: !Postgres",
        unsupported: &DOZER_CONNECTIONS,
        at: |path| path.ends_with("].config") && !path.contains("tables"),
    },
    TagKind {
        what: "local storage table kind",
        variants: &["Table"],
        example: "- !Table",
        unsupported: &[],
        at: |path| path.ends_with(']') && path.contains("tables"),
    },
    TagKind {
        what: "table format",
        variants: &["CSV"],
        example: "config: !CSV",
        unsupported: &DOZER_FORMATS,
        at: |path| path.ends_with("].config") && path.contains("tables"),
    },
    TagKind {
        what: SECURITY,
        variants: &["Jwt"],
        example: "api_security: !Jwt <secret>",
        unsupported: &[],
        at: |path| path == "api.api_security",
    },
];

/// Converts a serde_norway error on `file` into a located [`CompileError`].
/// `index` is the span index of the same text, which knows where duplicate
/// keys are.
pub(crate) fn convert(
    file: &SourceFile,
    index: &SpanIndex,
    err: &serde_norway::Error,
) -> CompileError {
    let full = err.to_string();
    let (path, message) = split_message(&full);
    if file.text.trim().is_empty() {
        return CompileError::new(format!("{} is empty", file.name))
            .with_help("a config needs at least `app_name: <name>`");
    }
    if message.contains("more than one document") {
        return second_document(file);
    }
    let Some(location) = err.location() else {
        return CompileError::new(message.to_string());
    };
    let offset = file.offset_of(location.line(), location.column());
    let here = token_at(&file.text, offset);
    let in_path = if path.is_empty() {
        "at the top level".to_string()
    } else {
        format!("in `{path}`")
    };

    if let Some((bad, expected)) = unknown_variant(message) {
        return unknown_tag(file, offset, bad, &expected);
    }
    if message.contains("expected a YAML tag starting with '!'") {
        let kind = KINDS.iter().find(|k| (k.at)(path));
        let (what, example) = kind.map_or(("type", "!Tag"), |k| (k.what, k.example));
        return CompileError::at(
            file,
            here,
            format!("missing {what} tag {in_path}"),
            "no tag",
        )
        .with_help(format!("start the value with a tag, e.g. `{example}`"));
    }
    if let Some((key, expected)) = unknown_field(message) {
        let msg = format!("unknown key `{key}` {in_path}");
        let mut error = CompileError::at(file, here, msg, "unknown key");
        if let Some(best) = closest(key, expected.iter().map(String::as_str)) {
            error = error.with_help(format!("did you mean `{best}`?"));
        }
        let names: Vec<String> = expected.iter().map(|n| format!("`{n}`")).collect();
        return error.with_help(format!("valid keys here: {}", names.join(", ")));
    }
    if let Some(key) = between(message, "duplicate field `", "`") {
        return duplicate_key(file, index, offset, key, &in_path);
    }
    if let Some(key) = between(message, "missing field `", "`") {
        let msg = format!("missing required key `{key}` {in_path}");
        return CompileError::at(file, here, msg, format!("this mapping has no `{key}`"))
            .with_help(format!("add `{key}: ...` to this mapping"));
    }
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        let reworded = expected_struct_as_mapping(message)
            .replace("expected u16", "expected an integer from 0 to 65535")
            .replace("expected u32", "expected a non-negative integer");
        let msg = if path.is_empty() {
            reworded
        } else {
            format!("`{path}`: {reworded}")
        };
        let error = CompileError::at(file, here, msg, "wrong type of value");
        if path.is_empty() {
            return error
                .with_help("the file must be `key: value` lines, starting with `app_name: ...`");
        }
        return error;
    }
    if path.is_empty() {
        // The scanner's own errors: the YAML itself is malformed.
        return CompileError::at(file, here, format!("invalid YAML: {message}"), "here")
            .with_help("check the indentation and the `key: value` syntax around this line");
    }
    CompileError::at(file, here, format!("`{path}`: {message}"), "here")
}

/// The same key twice in one mapping: point at the second, cite the first.
fn duplicate_key(
    file: &SourceFile,
    index: &SpanIndex,
    offset: usize,
    key: &str,
    in_path: &str,
) -> CompileError {
    let found = index
        .duplicates
        .iter()
        .find(|d| d.key == key && d.second.start >= offset);
    let message = format!("duplicate key `{key}` {in_path}");
    match found {
        Some(dup) => {
            let first_line = file.line_col(dup.first.start).0;
            CompileError::at(file, dup.second, message, "written a second time").with_help(format!(
                "`{key}` is already set on line {first_line}; keep only one of them"
            ))
        }
        None => CompileError::at(
            file,
            token_at(&file.text, offset),
            message,
            "in this mapping",
        )
        .with_help("keep only one of them"),
    }
}

/// A `---` starting a second YAML document.
fn second_document(file: &SourceFile) -> CompileError {
    let mut seen_content = false;
    let mut offset = 0;
    for line in file.text.split_inclusive('\n') {
        let trimmed = line.trim();
        if line.starts_with("---") && seen_content {
            let span = Span::new(offset, 3);
            return CompileError::at(
                file,
                span,
                "the config must be a single YAML document",
                "a second document starts here",
            )
            .with_help("remove this `---` line and merge the documents");
        }
        seen_content |= !(trimmed.is_empty()
            || trimmed.starts_with('#')
            || trimmed.starts_with("---")
            || trimmed.starts_with('%'));
        offset += line.len();
    }
    CompileError::new("the config must be a single YAML document")
}

/// serde names the model's structs ("expected struct Config"); users wrote
/// YAML, where those are mappings.
fn expected_struct_as_mapping(message: &str) -> String {
    match message.find("expected struct ") {
        Some(i) => format!("{}expected a mapping", &message[..i]),
        None => message.to_string(),
    }
}

/// Splits "path: message at line L column C" into (path, message).
fn split_message(full: &str) -> (&str, &str) {
    let body = match full.rfind(" at line ") {
        Some(i) if full[i..].contains(" column ") => &full[..i],
        _ => full,
    };
    match body.split_once(": ") {
        Some((path, rest)) if is_path(path) => (path, rest),
        _ => ("", body),
    }
}

/// Whether `s` looks like serde_norway's path (`a.b[0].c`), not prose.
fn is_path(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '[' | ']'))
        && !matches!(s, "invalid type" | "invalid value")
}

/// The text between `open` and the next `close` after it.
fn between<'a>(s: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = s.find(open)? + open.len();
    let len = s[start..].find(close)?;
    Some(&s[start..start + len])
}

/// Backquoted names in `s`, in order.
fn quoted_names(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// "unknown variant `X`, expected `A` or `B`" -> (X, [A, B]).
fn unknown_variant(message: &str) -> Option<(&str, Vec<String>)> {
    let bad = between(message, "unknown variant `", "`")?;
    let rest = message.split_once("expected").map_or("", |(_, r)| r);
    Some((bad, quoted_names(rest)))
}

/// "unknown field `x`, expected one of `a`, `b`" -> (x, [a, b]).
fn unknown_field(message: &str) -> Option<(&str, Vec<String>)> {
    let key = between(message, "unknown field `", "`")?;
    let rest = message.split_once("expected").map_or("", |(_, r)| r);
    Some((key, quoted_names(rest)))
}

/// An unknown YAML tag: names the bad tag and the valid ones, at the tag.
fn unknown_tag(file: &SourceFile, offset: usize, bad: &str, expected: &[String]) -> CompileError {
    let kind = KINDS.iter().find(|k| {
        k.variants
            .iter()
            .map(|v| v.to_string())
            .eq(expected.iter().cloned())
    });
    // serde points at the enclosing item; the tag itself comes after it.
    let needle = format!("!{bad}");
    let tag_at = file.text[offset..].find(&needle);
    let span = tag_at
        .map(|i| Span::new(offset + i, needle.len()))
        .unwrap_or_else(|| token_at(&file.text, offset));
    if tag_at.is_none() && kind.is_some_and(|k| k.what == SECURITY) {
        // An untagged value here is the secret itself: say what is missing, never echo it.
        return CompileError::at(
            file,
            span,
            format!("missing {SECURITY} tag in `api.api_security`"),
            "no tag",
        )
        .with_help("write `api_security: !Jwt <secret>`");
    }
    let names: Vec<&str> = expected.iter().map(String::as_str).collect();
    let tags: Vec<String> = names.iter().map(|n| format!("!{n}")).collect();
    let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
    let what = kind.map_or("type", |k| k.what);
    if kind.is_some_and(|k| k.unsupported.contains(&bad)) {
        let msg = format!("{what} `{bad}` is not supported yet");
        return CompileError::at(file, span, msg, "not supported by dozerc")
            .with_help(format!("dozerc supports {}", one_of(&tags)));
    }
    let msg = format!("unknown {what} `{bad}`, expected {}", one_of(&names));
    let error = CompileError::at(file, span, msg, "unknown tag");
    match closest(bad, names.iter().copied()) {
        Some(best) => error.with_help(format!("did you mean `!{best}`?")),
        None => error.with_help(format!("use one of {}", one_of(&tags))),
    }
}

/// The token starting at `offset`: a quoted string, a flow collection's
/// opening bracket, or a plain word up to `:`, `#`, `,`, a bracket or the
/// end of the line. Never empty unless at the end of a line.
fn token_at(text: &str, offset: usize) -> Span {
    let rest = text.get(offset..).unwrap_or("");
    let line = rest.split('\n').next().unwrap_or("");
    let len = match line.chars().next() {
        Some(q @ ('"' | '\'')) => line[1..].find(q).map_or(line.len(), |i| i + 2),
        Some('[' | '{') => 1,
        Some(_) => {
            let stop = line
                .char_indices()
                .find(|(i, c)| {
                    matches!(c, '#' | ',' | '[' | ']' | '{' | '}')
                        || (*c == ':' && line[i + 1..].starts_with([' ', '\t']))
                        || (*c == ':' && i + 1 == line.len())
                })
                .map_or(line.len(), |(i, _)| i);
            line[..stop].trim_end().len()
        }
        None => 0,
    };
    Span::new(offset, len)
}
