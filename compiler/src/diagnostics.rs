//! The compiler's single error type and its rustc-style rendering.
//!
//! Every phase (config loading, SQL compilation, code generation) reports
//! problems as a [`CompileError`]: a message, optionally a labelled span in a
//! [`SourceFile`], and an optional help line. Keeping one type means the CLI
//! has exactly one way to print errors, and tests can assert on the rendered
//! text with [`render`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceSpan,
};

/// A loaded source file (the YAML config, or later a .sql file).
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// Where the file was read from (may be fictitious for in-memory text).
    pub path: PathBuf,
    /// The name shown in diagnostics: the path relative to the current
    /// directory when possible, else the path as given.
    pub name: String,
    /// The whole text; shared because every error about the file embeds it.
    pub text: Arc<str>,
}

/// Byte range in a [`SourceFile`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Span {
    /// A span from `start` with `len` bytes.
    pub fn new(start: usize, len: usize) -> Self {
        Span { start, len }
    }

    /// Byte offset one past the last byte.
    pub fn end(&self) -> usize {
        self.start + self.len
    }
}

impl SourceFile {
    /// Wraps in-memory text; `name` is what diagnostics show.
    pub fn new(
        path: impl Into<PathBuf>,
        name: impl Into<String>,
        text: impl Into<Arc<str>>,
    ) -> Self {
        SourceFile {
            path: path.into(),
            name: name.into(),
            text: text.into(),
        }
    }

    /// Reads a file from disk; the display name is relative to the current
    /// directory when the file lies below it, so messages stay short.
    pub fn read(path: &Path) -> Result<Self, CompileError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| CompileError::new(format!("cannot read {}: {e}", path.display())))?;
        Ok(SourceFile::new(path, display_name(path), text))
    }

    /// Converts a 1-based (line, column) to a byte offset. The column counts
    /// characters (as sqlparser and YAML parsers report them), not bytes.
    /// Out-of-range positions clamp to the end of the line or of the file.
    pub fn offset_of(&self, line: usize, col: usize) -> usize {
        let text: &str = &self.text;
        let mut line_start = 0;
        for _ in 1..line.max(1) {
            match text[line_start..].find('\n') {
                Some(nl) => line_start += nl + 1,
                None => return text.len(),
            }
        }
        let line_text = &text[line_start..];
        let line_end = line_text.find('\n').unwrap_or(line_text.len());
        let line_text = &line_text[..line_end];
        let byte_in_line = line_text
            .char_indices()
            .nth(col.max(1) - 1)
            .map(|(i, _)| i)
            .unwrap_or(line_text.len());
        line_start + byte_in_line
    }

    /// Converts a byte offset to a 1-based (line, column in characters).
    /// An offset inside a multi-byte character counts as that character.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let text: &str = &self.text;
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }
}

/// Path relative to the current directory if it is below it, else as given.
fn display_name(path: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf));
    relative
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}

/// Where a [`CompileError`] points, kept apart from miette's types so callers
/// (and tests) can inspect it without rendering.
#[derive(Clone, Debug)]
struct Primary {
    name: String,
    span: Span,
    line: usize,
    col: usize,
}

/// The compiler's error: a message, an optional labelled span in a source
/// file, and an optional help line. Render it with [`render`].
///
/// The fields live behind a `Box` so `Result<T, CompileError>` stays one
/// pointer wide on the error side (the source text makes it large).
#[derive(Debug)]
pub struct CompileError {
    inner: Box<Inner>,
}

#[derive(Debug)]
struct Inner {
    message: String,
    source_code: Option<NamedSource<String>>,
    label: Option<LabeledSpan>,
    primary: Option<Primary>,
    help: Option<String>,
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl std::error::Error for CompileError {}

impl CompileError {
    /// An error not tied to a file position (e.g. a file that cannot be read).
    pub fn new(message: impl Into<String>) -> Self {
        CompileError {
            inner: Box::new(Inner {
                message: message.into(),
                source_code: None,
                label: None,
                primary: None,
                help: None,
            }),
        }
    }

    /// An error pointing at `span` of `file`, with `label` written under it.
    /// The span is clamped to the file, and widened to one character when
    /// empty so the underline stays visible.
    pub fn at(
        file: &SourceFile,
        span: Span,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        let text: &str = &file.text;
        let mut start = span.start.min(text.len());
        while !text.is_char_boundary(start) {
            start -= 1;
        }
        let mut end = span.end().clamp(start, text.len());
        if end == start {
            end = text[start..]
                .chars()
                .next()
                .filter(|c| *c != '\n')
                .map_or(start, |c| start + c.len_utf8());
        }
        while !text.is_char_boundary(end) {
            end += 1;
        }
        let span = Span::new(start, end - start);
        let (line, col) = file.line_col(start);
        let label: String = label.into();
        let label_text = (!label.is_empty()).then_some(label);
        CompileError {
            inner: Box::new(Inner {
                message: message.into(),
                source_code: Some(NamedSource::new(&file.name, text.to_string())),
                label: Some(LabeledSpan::new_primary_with_span(
                    label_text,
                    SourceSpan::new(start.into(), span.len),
                )),
                primary: Some(Primary {
                    name: file.name.clone(),
                    span,
                    line,
                    col,
                }),
                help: None,
            }),
        }
    }

    /// Adds a help line (rendered as `help: ...`). Calling it twice appends.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        let help = help.into();
        self.inner.help = Some(match self.inner.help.take() {
            Some(old) => format!("{old}\n{help}"),
            None => help,
        });
        self
    }

    /// The headline message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The help text, if any.
    pub fn help_text(&self) -> Option<&str> {
        self.inner.help.as_deref()
    }

    /// The primary span, if the error points into a file.
    pub fn span(&self) -> Option<Span> {
        self.inner.primary.as_ref().map(|p| p.span)
    }

    /// `name:line:col` (1-based) of the primary span, if any.
    pub fn location(&self) -> Option<String> {
        self.inner
            .primary
            .as_ref()
            .map(|p| format!("{}:{}:{}", p.name, p.line, p.col))
    }
}

impl Diagnostic for CompileError {
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.inner
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.inner
            .source_code
            .as_ref()
            .map(|s| s as &dyn miette::SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.inner
            .label
            .clone()
            .map(|l| Box::new(std::iter::once(l)) as Box<dyn Iterator<Item = LabeledSpan>>)
    }
}

/// Renders like rustc/miette graphical output but without colors, at a fixed
/// width of 100 columns, so the CLI's non-TTY output and tests are
/// deterministic. The output contains `name:line:col` of the primary span,
/// the source line with the span underlined, the label and the help.
pub fn render(err: &CompileError) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(100)
        .with_links(false)
        .without_syntax_highlighting();
    let mut out = String::new();
    if handler.render_report(&mut out, err).is_err() {
        // Rendering into a String cannot fail in practice; keep the message.
        out = format!("error: {}", err.inner.message);
    }
    let mut trimmed: String = out
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    trimmed.push('\n');
    trimmed
}

/// The candidate closest to `word` by edit distance (case-insensitive), if
/// it is close enough to be a plausible typo; used for "did you mean" helps.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let limit = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Formats names as "`a`, `b` or `c`" for messages and helps.
pub fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.len() {
        0 => "nothing".to_string(),
        1 => quoted[0].clone(),
        n => format!("{} or {}", quoted[..n - 1].join(", "), quoted[n - 1]),
    }
}
