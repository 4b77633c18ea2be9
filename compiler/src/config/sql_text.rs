//! The `sql` value of the config and the mapping from positions inside it
//! back to the YAML file.
//!
//! sqlparser reports (line, column) inside the SQL string, but the user wrote
//! that string inside YAML, usually as an indented block scalar (`sql: |`).
//! To underline the right spot in `dozer-config.yaml` we align the decoded
//! value with the scalar's raw source text once, character by character, and
//! keep the byte offset of every value character.

use saphyr_parser::ScalarStyle;

use crate::diagnostics::{SourceFile, Span};

/// The SQL text of a config, able to map SQL positions to YAML spans.
#[derive(Clone, Debug)]
pub struct SqlText {
    /// The SQL exactly as serde decoded it.
    pub text: String,
    file: SourceFile,
    /// File byte offset of each character of `text`, plus one past the end.
    offsets: Vec<usize>,
}

impl SqlText {
    /// Aligns `text` (the decoded value) with `raw`, the scalar's source
    /// range in `file`.
    pub(crate) fn new(file: SourceFile, text: String, raw: Span, style: ScalarStyle) -> Self {
        let offsets = align(&file.text, &text, raw, style);
        SqlText {
            text,
            file,
            offsets,
        }
    }

    /// The file the SQL lives in (for building errors with the span).
    pub fn file(&self) -> &SourceFile {
        &self.file
    }

    /// The YAML span of `len` characters starting at the 1-based `line` and
    /// `col` (in characters) of the SQL text, as sqlparser reports them.
    /// Positions past the end clamp to the end of the value; the span never
    /// runs past the end of its line in the file, and is at least one byte
    /// unless the value is empty.
    pub fn span(&self, line: usize, col: usize, len: usize) -> Span {
        let value: Vec<char> = self.text.chars().collect();
        let chars = value.len();
        let mut index = 0;
        let mut current = 1;
        for (i, c) in value.iter().enumerate() {
            if current == line {
                break;
            }
            if *c == '\n' {
                current += 1;
                index = i + 1;
            }
        }
        if current < line {
            index = chars;
        }
        // Stay on the requested line: columns past its end clamp to it.
        let line_len = value[index..].iter().take_while(|c| **c != '\n').count();
        let start_char = (index + col.max(1) - 1).min(index + line_len).min(chars);
        let start = self.offsets[start_char];
        let end_char = (start_char + len.max(1)).min(chars);
        let mut end = if end_char > start_char {
            // End of the last character, so a folded line break is excluded.
            let last = self.offsets[end_char - 1];
            last + char_len_at(&self.file.text, last)
        } else {
            start
        };
        let line_end = self.file.text[start..]
            .find('\n')
            .map_or(self.file.text.len(), |n| start + n);
        end = end.clamp(start, line_end.max(start));
        if end == start && start < line_end {
            end = start + char_len_at(&self.file.text, start);
        }
        Span::new(start, end - start)
    }
}

/// Byte length of the character at `offset` (0 at the end of the text).
fn char_len_at(text: &str, offset: usize) -> usize {
    text.get(offset..)
        .and_then(|rest| rest.chars().next())
        .map_or(0, char::len_utf8)
}

/// For each character of `value`, the byte offset in `source` of the raw
/// character it came from; plus the end of `raw` as a final entry.
///
/// Block scalars drop their indentation at each line start; all styles may
/// fold line breaks into spaces and drop quotes or escape backslashes. The
/// greedy walk below skips raw characters until one matches, which handles
/// all of those; an unmatched value character (an escape such as `\t`) is
/// pinned to the current raw position so the alignment cannot run away.
fn align(source: &str, value: &str, raw: Span, style: ScalarStyle) -> Vec<usize> {
    let block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
    // The parser's span of a block scalar starts at its first content
    // character, just past the indentation (so that column is the block's
    // indentation), but leading blank lines are part of the value: start
    // the walk right after the header line instead.
    let (raw, indent) = if block {
        let start = block_body_start(source, raw.start);
        let indent = source[line_start(source, raw.start)..raw.start]
            .chars()
            .count();
        (Span::new(start, raw.end().saturating_sub(start)), indent)
    } else {
        (raw, 0)
    };
    let raw_text = source.get(raw.start..raw.end()).unwrap_or("");
    let raw_chars: Vec<(usize, char)> = raw_text
        .char_indices()
        .map(|(i, c)| (raw.start + i, c))
        .collect();
    let skip = indentation_mask(&raw_chars, indent);
    let mut offsets = Vec::with_capacity(value.len() + 1);
    let mut p = 0;
    for v in value.chars() {
        let mut q = p;
        let mut found = None;
        let mut misses = 0;
        while q < raw_chars.len() && misses <= 12 {
            let r = raw_chars[q].1;
            if !skip[q] && (r == v || (r == '\n' && (v == ' ' || v == '\n'))) {
                found = Some(q);
                break;
            }
            if !skip[q] && !r.is_whitespace() {
                misses += 1;
            }
            q += 1;
        }
        match found {
            Some(q) => {
                offsets.push(raw_chars[q].0);
                p = q + 1;
            }
            None => {
                offsets.push(raw_chars.get(p).map_or(raw.end(), |(o, _)| *o));
                p = (p + 1).min(raw_chars.len());
            }
        }
    }
    offsets.push(raw.end());
    offsets
}

/// Byte offset of the start of the line containing `offset`.
fn line_start(source: &str, offset: usize) -> usize {
    source[..offset].rfind('\n').map_or(0, |n| n + 1)
}

/// The start of the first line after a block scalar's header (`|`, `>-`,
/// ...), given the offset of its first content character: walks back over
/// the blank lines in between.
fn block_body_start(source: &str, content: usize) -> usize {
    let mut start = line_start(source, content);
    while start > 0 {
        let previous = line_start(source, start - 1);
        if !source[previous..start].trim().is_empty() {
            break;
        }
        start = previous;
    }
    start
}

/// Marks up to `indent` leading spaces of each line (the block scalar's
/// indentation, not part of the value) so the walk in [`align`] never
/// matches a value space to them. `raw_chars` starts at a line start.
fn indentation_mask(raw_chars: &[(usize, char)], indent: usize) -> Vec<bool> {
    let mut skip = vec![false; raw_chars.len()];
    let mut col = 0;
    for (i, (_, c)) in raw_chars.iter().enumerate() {
        if *c == '\n' {
            col = 0;
            continue;
        }
        if col < indent && *c == ' ' {
            skip[i] = true;
        }
        col += 1;
    }
    skip
}
