//! Mapping sqlparser's line/column positions back into the YAML file, for diagnostics.

use crate::config::SqlText;
use crate::diagnostics::{CompileError, Span};
use sqlparser::parser::ParserError;
use sqlparser::tokenizer::Span as SqlSpan;

/// The SQL of a config with its position in the file.
pub struct SqlSource {
    sql: SqlText,
}

impl SqlSource {
    pub fn new(sql: SqlText) -> Self {
        SqlSource { sql }
    }

    pub fn text(&self) -> &str {
        &self.sql.text
    }

    /// The config-file span of a sqlparser span (its first line when it spans several).
    pub fn span(&self, span: SqlSpan) -> Span {
        let (line, col) = (span.start.line as usize, span.start.column as usize);
        if line == 0 {
            return self.sql.span(1, 1, 1);
        }
        let len = if span.end.line == span.start.line && span.end.column > span.start.column {
            (span.end.column - span.start.column) as usize
        } else {
            self.line_rest(line, col)
        };
        self.sql.span(line, col, len.max(1))
    }

    fn line_rest(&self, line: usize, col: usize) -> usize {
        self.text()
            .lines()
            .nth(line - 1)
            .map_or(1, |l| l.chars().count().saturating_sub(col - 1).max(1))
    }

    /// An error at a SQL span.
    pub fn error(
        &self,
        span: SqlSpan,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> CompileError {
        CompileError::at(self.sql.file(), self.span(span), message, label)
    }

    /// The text of the lines a span covers (for doc comments in generated code).
    pub fn lines_of(&self, span: SqlSpan) -> String {
        let (first, last) = (
            span.start.line.max(1) as usize,
            span.end.line.max(span.start.line).max(1) as usize,
        );
        self.text()
            .lines()
            .skip(first - 1)
            .take(last - first + 1)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The line of the config file where a SQL line is.
    pub fn config_line(&self, span: SqlSpan) -> usize {
        let at = self.sql.span(span.start.line.max(1) as usize, 1, 1);
        self.sql.file().line_col(at.start).0
    }

    /// Converts a sqlparser error ("... at Line: 3, Column: 5") into a located error.
    pub fn parse_error(&self, e: ParserError) -> CompileError {
        let message = match &e {
            ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
            ParserError::RecursionLimitExceeded => "the SQL nests too deeply".to_string(),
        };
        let (text, position) = split_position(&message);
        let help = "dozerc reads statements of the form `SELECT ... INTO <table> FROM <table> [WHERE ...] [GROUP BY ...] [HAVING ...];`";
        match position {
            Some((line, col)) => CompileError::at(
                self.sql.file(),
                self.sql.span(line, col, self.token_len(line, col)),
                format!("SQL syntax error: {text}"),
                "here",
            )
            .with_help(help),
            None => CompileError::new(format!("SQL syntax error: {text}")).with_help(help),
        }
    }

    fn token_len(&self, line: usize, col: usize) -> usize {
        self.text()
            .lines()
            .nth(line.saturating_sub(1))
            .map(|l| {
                let mut token = l.chars().skip(col.saturating_sub(1)).peekable();
                // A word is underlined whole; punctuation (`(`, `,`) alone.
                match token.peek() {
                    Some(c) if c.is_alphanumeric() || *c == '_' => token
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .count(),
                    _ => 1,
                }
            })
            .unwrap_or(1)
            .max(1)
    }
}

/// Splits "Expected: X, found: Y at Line: 3, Column: 5" into the text and (3, 5).
fn split_position(message: &str) -> (String, Option<(usize, usize)>) {
    let Some(at) = message.rfind(" at Line: ") else {
        return (message.to_string(), None);
    };
    let rest = &message[at + " at Line: ".len()..];
    let mut parts = rest.split(", Column: ");
    let line = parts.next().and_then(|l| l.trim().parse().ok());
    let col = parts.next().and_then(|c| c.trim().parse().ok());
    match (line, col) {
        (Some(l), Some(c)) => (message[..at].to_string(), Some((l, c))),
        _ => (message.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn splits_positions_out_of_parser_messages() {
        let (text, pos) =
            super::split_position("Expected: an expression, found: FROM at Line: 3, Column: 5");
        assert_eq!(text, "Expected: an expression, found: FROM");
        assert_eq!(pos, Some((3, 5)));
    }
}
