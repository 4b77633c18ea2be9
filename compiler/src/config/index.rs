//! A path -> span index of a YAML document, built from saphyr-parser's event
//! stream.
//!
//! serde throws positions away once the model is built, but validation and
//! the SQL compiler need to point at the offending value. Rather than
//! re-implement YAML, we replay the parser's events and remember where each
//! node of the first document starts. Tags (`!Postgres`) are part of the node
//! event, so they cannot shift keys.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle};

use crate::diagnostics::Span;

/// One step of an owned YAML path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// Where a node is, and for scalars what the parser saw.
#[derive(Clone, Debug)]
pub(crate) struct Node {
    /// The value's span for scalars; the key's span for collections that are
    /// mapping values; the start (tag or first token) for sequence items.
    pub span: Span,
    /// Byte range of a scalar's source text (quotes included; for block
    /// scalars from the first content character), for mapping positions
    /// inside the value.
    pub raw: Option<Span>,
    /// The scalar's style, if it is a scalar.
    pub style: Option<ScalarStyle>,
}

/// The index of the first document of a YAML text.
#[derive(Clone, Debug, Default)]
pub(crate) struct SpanIndex {
    nodes: HashMap<Vec<Seg>, Node>,
    /// Keys written twice in one mapping, in file order (serde only says
    /// "duplicate field" and points at the mapping).
    pub duplicates: Vec<DuplicateKey>,
}

/// A mapping key that appears twice.
#[derive(Clone, Debug)]
pub(crate) struct DuplicateKey {
    pub key: String,
    pub first: Span,
    pub second: Span,
}

/// An open collection while replaying events.
enum Frame {
    Mapping {
        path: Vec<Seg>,
        /// The key just read, waiting for its value, with the key's span.
        pending_key: Option<(String, Span)>,
        /// Keys seen so far, with their spans, to report duplicates.
        seen: HashMap<String, Span>,
    },
    Sequence {
        path: Vec<Seg>,
        next: usize,
    },
}

impl SpanIndex {
    /// Builds the index. A scanner error (which serde reports better) stops
    /// indexing and keeps what was found so far.
    pub(crate) fn build(text: &str) -> SpanIndex {
        let offsets = CharOffsets::new(text);
        let mut index = SpanIndex::default();
        let mut stack: Vec<Frame> = Vec::new();
        let mut parser = Parser::new_from_str(text);
        let mut documents = 0;
        // Parallel to `stack`: whether each open collection is a mapping key.
        let mut complex_keys: Vec<bool> = Vec::new();
        while let Some(Ok((event, ev_span))) = parser.next_event() {
            let start = offsets.byte(ev_span.start.index());
            let end = offsets.byte(ev_span.end.index()).max(start);
            let whole = Span::new(start, end - start);
            let is_map = matches!(event, Event::MappingStart(..));
            match event {
                Event::DocumentStart(_) => {
                    documents += 1;
                    if documents > 1 {
                        break;
                    }
                }
                Event::Scalar(value, style, _, tag) => {
                    if expects_key(&stack) {
                        if let Some(Frame::Mapping {
                            pending_key, seen, ..
                        }) = stack.last_mut()
                        {
                            if let Some(first) = seen.get(value.as_ref()) {
                                index.duplicates.push(DuplicateKey {
                                    key: value.to_string(),
                                    first: *first,
                                    second: whole,
                                });
                            } else {
                                seen.insert(value.to_string(), whole);
                            }
                            *pending_key = Some((value.into_owned(), whole));
                        }
                        continue;
                    }
                    let value_span = strip_tag(text, whole, tag.is_some());
                    let node = Node {
                        span: first_line(text, value_span),
                        raw: Some(value_span),
                        style: Some(style),
                    };
                    if let Some(path) = child_path(&mut stack) {
                        index.nodes.insert(path.0, node);
                    }
                }
                Event::Alias(_) => {
                    if let Some(path) = child_path(&mut stack) {
                        let node = Node {
                            span: whole,
                            raw: None,
                            style: None,
                        };
                        index.nodes.insert(path.0, node);
                    }
                }
                Event::MappingStart(_, tag) | Event::SequenceStart(_, tag) => {
                    let own = collection_start(text, whole, tag.is_some());
                    let is_key = expects_key(&stack);
                    let (path, key_span) = match child_path(&mut stack) {
                        Some(found) => found,
                        None if stack.is_empty() => (Vec::new(), None),
                        // A collection used as a mapping key (`? [a, b]`):
                        // index it nowhere useful, and remember to give the
                        // parent an (empty) key when it ends.
                        None => (vec![Seg::Key(String::new())], None),
                    };
                    complex_keys.push(is_key);
                    let node = Node {
                        span: key_span.unwrap_or(own),
                        raw: None,
                        style: None,
                    };
                    index.nodes.insert(path.clone(), node);
                    stack.push(if is_map {
                        Frame::Mapping {
                            path,
                            pending_key: None,
                            seen: HashMap::new(),
                        }
                    } else {
                        Frame::Sequence { path, next: 0 }
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    if complex_keys.pop() == Some(true) {
                        if let Some(Frame::Mapping { pending_key, .. }) = stack.last_mut() {
                            *pending_key = Some((String::new(), whole));
                        }
                    }
                }
                _ => {}
            }
        }
        index
    }

    /// The node at `path`, if present.
    pub(crate) fn get(&self, path: &[Seg]) -> Option<&Node> {
        self.nodes.get(path)
    }
}

/// Whether the next node is a mapping key.
fn expects_key(stack: &[Frame]) -> bool {
    matches!(
        stack.last(),
        Some(Frame::Mapping {
            pending_key: None,
            ..
        })
    )
}

/// The path of the node about to start under the top frame, and the span of
/// its key when it is a mapping value. Advances the frame (consumes the key
/// or the sequence slot). `None` when there is no frame or the node is a
/// mapping key that is not a scalar.
fn child_path(stack: &mut [Frame]) -> Option<(Vec<Seg>, Option<Span>)> {
    match stack.last_mut()? {
        Frame::Mapping {
            path, pending_key, ..
        } => {
            let (key, key_span) = pending_key.take()?;
            let mut child = path.clone();
            child.push(Seg::Key(key));
            // `pending_key` is None again: the next scalar is the next key.
            Some((child, Some(key_span)))
        }
        Frame::Sequence { path, next } => {
            let mut child = path.clone();
            child.push(Seg::Index(*next));
            *next += 1;
            Some((child, None))
        }
    }
}

/// A tagged scalar's event span starts at the tag; skip it and the blanks
/// after it so the underline covers the value.
fn strip_tag(text: &str, span: Span, tagged: bool) -> Span {
    if !tagged {
        return span;
    }
    let raw = text.get(span.start..span.end()).unwrap_or("");
    if !raw.starts_with('!') {
        return span;
    }
    let tag_len = raw.find(char::is_whitespace).unwrap_or(raw.len());
    let rest = &raw[tag_len..];
    let skip = tag_len + (rest.len() - rest.trim_start().len());
    Span::new(span.start + skip, span.len - skip)
}

/// The start of a collection: its tag when tagged (the event span would run
/// to the next token), else the event span (`{`, `[`, or empty for blocks).
fn collection_start(text: &str, span: Span, tagged: bool) -> Span {
    let raw = text.get(span.start..span.end()).unwrap_or("");
    if tagged && raw.starts_with('!') {
        let tag_len = raw.find(char::is_whitespace).unwrap_or(raw.len());
        return Span::new(span.start, tag_len);
    }
    span
}

/// A multi-line scalar (block, or quoted/plain spanning lines) would be
/// underlined across lines; point at its first line only, which reads better.
fn first_line(text: &str, span: Span) -> Span {
    let raw = text.get(span.start..span.end()).unwrap_or("");
    match raw.find('\n') {
        Some(nl) => Span::new(span.start, raw[..nl].trim_end().len()),
        None => span,
    }
}

/// Converts saphyr's character indices to byte offsets.
struct CharOffsets {
    /// Byte offset of each character, plus the text length at the end.
    bytes: Vec<usize>,
}

impl CharOffsets {
    fn new(text: &str) -> Self {
        let mut bytes: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        bytes.push(text.len());
        CharOffsets { bytes }
    }

    fn byte(&self, char_index: usize) -> usize {
        let last = self.bytes.len() - 1;
        self.bytes[char_index.min(last)]
    }
}
