//! Binding scalar expressions: resolve names, type every node, insert implicit casts.

use super::coerce::{coerce, parse_literal};
use super::SqlSource;
use crate::diagnostics::CompileError;
use crate::plan::{BinaryOp, Column, Expr, ExprKind, Literal, SqlType};
use sqlparser::ast::{self, Spanned};

/// A hook that may bind a node itself (aggregates, group keys) before the generic rules apply.
pub type Hook<'h> = dyn FnMut(&Binder, &ast::Expr) -> Option<Result<Expr, CompileError>> + 'h;

/// A table named in FROM: what qualifies its columns, and where they are in the input row.
#[derive(Clone, Debug)]
pub struct TableRef {
    pub name: String,
    pub alias: Option<String>,
    pub columns: std::ops::Range<usize>,
}

impl TableRef {
    /// How messages name it: `orders` or `orders` (as `o`).
    fn shown(&self) -> String {
        match &self.alias {
            Some(alias) => format!("`{}` (as `{alias}`)", self.name),
            None => format!("`{}`", self.name),
        }
    }
}

/// Names visible to an expression: the columns of the tables in FROM (one, or several joined).
pub struct Binder<'a> {
    pub src: &'a SqlSource,
    pub tables: &'a [TableRef],
    pub columns: &'a [Column],
}

impl Binder<'_> {
    /// Binds an expression over input rows, where aggregate functions are not allowed.
    pub fn bind_row(&self, e: &ast::Expr, place: &str) -> Result<Expr, CompileError> {
        let mut hook = |b: &Binder, e: &ast::Expr| -> Option<Result<Expr, CompileError>> {
            match e {
                ast::Expr::Function(f) if super::aggregate::aggregate_name(f).is_some() => {
                    Some(Err(b
                        .src
                        .error(
                            e.span(),
                            format!("aggregate functions are not allowed in {place}"),
                            "aggregate",
                        )
                        .with_help("filter groups with HAVING instead")))
                }
                _ => None,
            }
        };
        self.bind(e, &mut hook)
    }

    /// Binds `e`, letting `hook` take over any node it recognises.
    pub fn bind(&self, e: &ast::Expr, hook: &mut Hook) -> Result<Expr, CompileError> {
        if let Some(bound) = hook(self, e) {
            return bound;
        }
        let span = self.src.span(e.span());
        let node = |kind, ty, nullable| Expr {
            kind,
            ty,
            nullable,
            span,
        };
        match e {
            ast::Expr::Identifier(ident) => self.column(ident, e),
            ast::Expr::CompoundIdentifier(parts) => self.qualified_column(parts, e),
            ast::Expr::Nested(inner) => self.bind(inner, hook),
            ast::Expr::Value(v) => self.literal(&v.value, e),
            ast::Expr::BinaryOp { left, op: op @ (ast::BinaryOperator::Plus | ast::BinaryOperator::Minus), right }
                if matches!(right.as_ref(), ast::Expr::Interval(_)) =>
            {
                let ast::Expr::Interval(interval) = right.as_ref() else { unreachable!() };
                let negate = matches!(op, ast::BinaryOperator::Minus);
                self.interval_arith(e, left, interval, negate, hook)
            }
            ast::Expr::BinaryOp { left, op: ast::BinaryOperator::Plus, right }
                if matches!(left.as_ref(), ast::Expr::Interval(_)) =>
            {
                let ast::Expr::Interval(interval) = left.as_ref() else { unreachable!() };
                self.interval_arith(e, right, interval, false, hook)
            }
            ast::Expr::BinaryOp { left, op: op @ (ast::BinaryOperator::Arrow | ast::BinaryOperator::LongArrow), right } => {
                let (l, r) = (self.bind(left, hook)?, self.bind(right, hook)?);
                self.json_access(e, l, r, matches!(op, ast::BinaryOperator::LongArrow), right)
            }
            ast::Expr::BinaryOp { left, op, right } => {
                let (l, r) = (self.bind(left, hook)?, self.bind(right, hook)?);
                if let Some(dated) = self.date_arith(e, &l, op, &r) {
                    return dated;
                }
                self.binary(e, l, op, r)
            }
            ast::Expr::Subquery(_)
            | ast::Expr::Exists { .. }
            | ast::Expr::In { target: ast::InTarget::Subquery(_), .. } => Err(self
                .src
                .error(e.span(), "subqueries are not supported yet", "subquery")
                .with_help("write the inner query as its own `SELECT ... INTO` statement and read its table")),
            ast::Expr::Interval(_) => Err(self
                .src
                .error(e.span(), "an INTERVAL can only be added to or subtracted from a Timestamp or a Date", "interval")
                .with_help("write e.g. created + INTERVAL '1 day'")),
            ast::Expr::UnaryOp { op, expr } => {
                let inner = self.bind(expr, hook)?;
                match op {
                    ast::UnaryOperator::Plus if inner.ty.is_numeric() => Ok(inner),
                    ast::UnaryOperator::Minus if inner.ty.is_numeric() => {
                        let (ty, nullable) = (inner.ty, inner.nullable);
                        Ok(node(ExprKind::Negate(Box::new(inner)), ty, nullable))
                    }
                    ast::UnaryOperator::Not => {
                        let inner = self.expect_bool(inner, expr)?;
                        let nullable = inner.nullable;
                        Ok(node(ExprKind::Not(Box::new(inner)), SqlType::Boolean, nullable))
                    }
                    _ => Err(self.src.error(e.span(), format!("`{op}` cannot be applied to {} value", inner.ty.with_article()), "here")
                        .with_help("unary minus needs a number; NOT needs a Boolean")),
                }
            }
            ast::Expr::IsNull(inner) | ast::Expr::IsNotNull(inner) => {
                let bound = self.bind(inner, hook)?;
                let negated = matches!(e, ast::Expr::IsNotNull(_));
                Ok(node(ExprKind::IsNull { expr: Box::new(bound), negated }, SqlType::Boolean, false))
            }
            ast::Expr::Cast { expr: inner, data_type, .. } => {
                let bound = self.bind(inner, hook)?;
                let (target, bits) = cast_target(data_type).ok_or_else(|| {
                    self.src.error(e.span(), format!("casting to {data_type} is not supported"), "unsupported type")
                        .with_help("the types are SMALLINT, INT, BIGINT, NUMERIC/DECIMAL, DOUBLE PRECISION, TEXT/VARCHAR, BOOLEAN, DATE and TIMESTAMP, without a length or precision (round with ROUND, cut with SUBSTRING)")
                })?;
                let cast = self.explicit_cast(e, bound, target)?;
                Ok(match bits {
                    Some(bits) => self.int_range(e, cast, bits),
                    None => cast,
                })
            }
            ast::Expr::Function(f) => self.function(e, f, hook),
            ast::Expr::Case { operand, conditions, else_result, .. } => {
                self.case(e, operand.as_deref(), conditions, else_result.as_deref(), hook)
            }
            ast::Expr::In { expr, target: ast::InTarget::List(list), negated, .. } => {
                self.in_list(e, expr, list, *negated, hook)
            }
            ast::Expr::Between { expr, negated, low, high } => self.between(e, expr, low, high, *negated, hook),
            ast::Expr::Like { negated, any: false, expr, pattern, escape_char } => {
                self.like(e, expr, pattern, escape_char.as_deref(), *negated, false, hook)
            }
            ast::Expr::ILike { negated, any: false, expr, pattern, escape_char } => {
                self.like(e, expr, pattern, escape_char.as_deref(), *negated, true, hook)
            }
            ast::Expr::Substring { expr, substring_from, substring_for, .. } => {
                self.substring(e, expr, substring_from.as_deref(), substring_for.as_deref(), hook)
            }
            ast::Expr::Trim { expr, trim_where, trim_what, trim_characters } => self.trim(
                e,
                expr,
                trim_where.as_ref(),
                trim_what.as_deref(),
                trim_characters.as_deref(),
                hook,
            ),
            ast::Expr::Position { expr, r#in } => self.position(e, expr, r#in, hook),
            ast::Expr::Extract { field, expr, .. } => self.extract(e, field, expr, hook),
            ast::Expr::Ceil { expr, field } => self.ceil_floor(e, expr, field, true, hook),
            ast::Expr::Floor { expr, field } => self.ceil_floor(e, expr, field, false, hook),
            ast::Expr::TypedString(typed) => {
                let (target, _) = cast_target(&typed.data_type).ok_or_else(|| {
                    self.src.error(e.span(), format!("{} literals are not supported", typed.data_type), "unsupported type")
                })?;
                let text = match &typed.value.value {
                    ast::Value::SingleQuotedString(s) => s.clone(),
                    other => other.to_string(),
                };
                let literal = Expr { kind: ExprKind::Literal(Literal::String(text)), ty: SqlType::String, nullable: false, span };
                coerce(literal, target).map_err(|m| self.src.error(e.span(), m, "this literal"))
            }
            other => Err(self
                .src
                .error(other.span(), format!("unsupported expression `{other}`"), "not supported yet")
                .with_help("use columns, literals, arithmetic (+ - * / %), comparisons, AND/OR/NOT, IS [NOT] NULL, [NOT] IN (...), BETWEEN, LIKE/ILIKE, CASE, CAST, functions and aggregates")),
        }
    }

    fn column(&self, ident: &ast::Ident, e: &ast::Expr) -> Result<Expr, CompileError> {
        self.column_in(self.tables, ident, e)
    }

    /// Resolves `ident` among the columns of `tables`: unknown, or in two of them, is an error.
    fn column_in(
        &self,
        tables: &[TableRef],
        ident: &ast::Ident,
        e: &ast::Expr,
    ) -> Result<Expr, CompileError> {
        let found: Vec<(&TableRef, usize)> = tables
            .iter()
            .flat_map(|t| {
                let columns = &self.columns[t.columns.clone()];
                find_column(columns, ident).map(|i| (t, t.columns.start + i))
            })
            .collect();
        let index = match found.as_slice() {
            [(_, index)] => *index,
            [] => return Err(self.unknown_column(tables, ident, e)),
            [(first, _), (second, _), ..] => {
                return Err(self
                    .src
                    .error(
                        e.span(),
                        format!("column `{}` is ambiguous", ident.value),
                        "in two tables",
                    )
                    .with_help(format!(
                        "it is a column of {} and of {}: qualify it, e.g. `{}.{}`",
                        first.shown(),
                        second.shown(),
                        first.alias.as_ref().unwrap_or(&first.name),
                        ident.value
                    )))
            }
        };
        let c = &self.columns[index];
        Ok(Expr {
            kind: ExprKind::Column(index),
            ty: c.ty,
            nullable: c.nullable,
            span: self.src.span(e.span()),
        })
    }

    fn unknown_column(
        &self,
        tables: &[TableRef],
        ident: &ast::Ident,
        e: &ast::Expr,
    ) -> CompileError {
        let names: Vec<&str> = tables
            .iter()
            .flat_map(|t| self.columns[t.columns.clone()].iter())
            .map(|c| c.name.as_str())
            .collect();
        let shown: Vec<String> = tables.iter().map(TableRef::shown).collect();
        let err = self.src.error(
            e.span(),
            format!("unknown column `{}` in {}", ident.value, shown.join(", ")),
            "not a column of this table",
        );
        match crate::diagnostics::closest(&ident.value, names.iter().copied()) {
            Some(near) => err.with_help(format!(
                "did you mean `{near}`? The columns are: {}",
                names.join(", ")
            )),
            None => err.with_help(format!("the columns are: {}", names.join(", "))),
        }
    }

    /// The tables `qualifier` names: by alias, or by name when it has none in FROM.
    pub fn tables_named(&self, qualifier: &ast::Ident) -> Vec<TableRef> {
        let same = |name: &str| {
            if qualifier.quote_style.is_some() {
                name == qualifier.value
            } else {
                name.eq_ignore_ascii_case(&qualifier.value)
            }
        };
        let by_alias: Vec<TableRef> = self
            .tables
            .iter()
            .filter(|t| t.alias.as_deref().is_some_and(same))
            .cloned()
            .collect();
        if !by_alias.is_empty() {
            return by_alias;
        }
        // As in Postgres an alias hides the table's name, except that a lone table answers to
        // both.
        let by_name =
            |t: &&TableRef| same(&t.name) && (t.alias.is_none() || self.tables.len() == 1);
        self.tables.iter().filter(by_name).cloned().collect()
    }

    /// `qualifier` as a table of FROM, or an error listing them.
    pub fn qualifier(&self, qualifier: &ast::Ident) -> Result<Vec<TableRef>, CompileError> {
        let tables = self.tables_named(qualifier);
        if tables.is_empty() {
            let shown: Vec<String> = self.tables.iter().map(TableRef::shown).collect();
            return Err(self
                .src
                .error(
                    qualifier.span,
                    format!("unknown table `{}`", qualifier.value),
                    "not in FROM",
                )
                .with_help(format!("this statement reads {}", shown.join(", "))));
        }
        Ok(tables)
    }

    fn qualified_column(&self, parts: &[ast::Ident], e: &ast::Expr) -> Result<Expr, CompileError> {
        let [qualifier, name] = parts else {
            return Err(self.src.error(
                e.span(),
                format!("`{e}` has too many parts"),
                "use `table.column` or `column`",
            ));
        };
        let tables = self.qualifier(qualifier)?;
        self.column_in(&tables, name, e)
    }

    fn literal(&self, v: &ast::Value, e: &ast::Expr) -> Result<Expr, CompileError> {
        let span = self.src.span(e.span());
        let (literal, ty) = match v {
            ast::Value::Number(text, _) => number_literal(text).ok_or_else(|| {
                self.src
                    .error(e.span(), format!("`{text}` is out of range"), "number")
            })?,
            ast::Value::SingleQuotedString(s) => (Literal::String(s.clone()), SqlType::String),
            ast::Value::Boolean(b) => (Literal::Boolean(*b), SqlType::Boolean),
            ast::Value::Null => (Literal::Null, SqlType::Null),
            other => {
                return Err(self.src.error(
                    e.span(),
                    format!("unsupported literal `{other}`"),
                    "not supported yet",
                ))
            }
        };
        let nullable = ty == SqlType::Null;
        Ok(Expr {
            kind: ExprKind::Literal(literal),
            ty,
            nullable,
            span,
        })
    }

    fn expect_bool(&self, expr: Expr, at: &ast::Expr) -> Result<Expr, CompileError> {
        coerce(expr, SqlType::Boolean).map_err(|_| {
            self.src
                .error(at.span(), "expected a Boolean expression", "not a Boolean")
                .with_help("NOT applies to conditions, e.g. NOT (Quantity > 0)")
        })
    }

    pub(super) fn binary(
        &self,
        e: &ast::Expr,
        l: Expr,
        op: &ast::BinaryOperator,
        r: Expr,
    ) -> Result<Expr, CompileError> {
        use ast::BinaryOperator as B;
        let op = match op {
            B::Plus => BinaryOp::Add,
            B::Minus => BinaryOp::Sub,
            B::Multiply => BinaryOp::Mul,
            B::Divide => BinaryOp::Div,
            B::Modulo => BinaryOp::Rem,
            B::Eq => BinaryOp::Eq,
            B::NotEq => BinaryOp::NotEq,
            B::Lt => BinaryOp::Lt,
            B::LtEq => BinaryOp::LtEq,
            B::Gt => BinaryOp::Gt,
            B::GtEq => BinaryOp::GtEq,
            B::And => BinaryOp::And,
            B::Or => BinaryOp::Or,
            B::StringConcat => BinaryOp::Concat,
            other => {
                return Err(self.src.error(
                    e.span(),
                    format!("operator `{other}` is not supported yet"),
                    "unsupported operator",
                ))
            }
        };
        let span = self.src.span(e.span());
        let mismatch = |l: &Expr, r: &Expr| {
            self.src
                .error(e.span(), format!("cannot apply `{}` to {} and {}", op_text(op), l.ty, r.ty), "type mismatch")
                .with_help(match op {
                    _ if op.is_arithmetic() => "arithmetic needs numbers (Int, UInt, Decimal, Float); CAST the operands".to_string(),
                    BinaryOp::And | BinaryOp::Or => "AND and OR need Boolean operands, e.g. comparisons".to_string(),
                    BinaryOp::Concat => "|| joins String values".to_string(),
                    _ => "compare values of the same kind (numbers with numbers, text with text, dates with dates)".to_string(),
                })
        };
        let nullable = l.nullable || r.nullable;
        let (target, result) = if op.is_arithmetic() {
            let t = SqlType::numeric_union(l.ty, r.ty)
                .filter(|t| t.is_numeric())
                .ok_or_else(|| mismatch(&l, &r))?;
            (t, t)
        } else if op.is_comparison() {
            let t = comparison_type(&l, &r).ok_or_else(|| mismatch(&l, &r))?;
            (t, SqlType::Boolean)
        } else if op == BinaryOp::Concat {
            if !(l.ty.is_text() || l.ty == SqlType::Null)
                || !(r.ty.is_text() || r.ty == SqlType::Null)
            {
                return Err(mismatch(&l, &r));
            }
            (SqlType::String, SqlType::String)
        } else {
            (SqlType::Boolean, SqlType::Boolean)
        };
        let (l2, r2) = match (coerce(l.clone(), target), coerce(r.clone(), target)) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(m), _) | (_, Err(m)) => return Err(mismatch(&l, &r).with_help(m)),
        };
        Ok(Expr {
            kind: ExprKind::Binary {
                op,
                left: Box::new(l2),
                right: Box::new(r2),
            },
            ty: result,
            nullable,
            span,
        })
    }
}

/// The type both sides of a comparison are converted to. A quoted literal takes the other side's type.
fn comparison_type(l: &Expr, r: &Expr) -> Option<SqlType> {
    let is_text_literal = |e: &Expr| matches!(e.kind, ExprKind::Literal(Literal::String(_)));
    match (is_text_literal(l), is_text_literal(r)) {
        (true, false) if parse_literal_ok(l, r.ty) => Some(r.ty),
        (false, true) if parse_literal_ok(r, l.ty) => Some(l.ty),
        _ => SqlType::comparison_union(l.ty, r.ty),
    }
}

fn parse_literal_ok(e: &Expr, ty: SqlType) -> bool {
    matches!(&e.kind, ExprKind::Literal(Literal::String(s)) if parse_literal(s, ty).is_ok())
}

fn number_literal(text: &str) -> Option<(Literal, SqlType)> {
    if let Ok(i) = text.parse::<i64>() {
        return Some((Literal::Int(i), SqlType::Int));
    }
    if text.contains(['e', 'E']) {
        return text
            .parse::<f64>()
            .ok()
            .map(|f| (Literal::Float(f), SqlType::Float));
    }
    text.parse::<rust_decimal::Decimal>()
        .ok()
        .map(|_| (Literal::Decimal(text.to_string()), SqlType::Decimal))
}

/// The type a CAST converts to, with the range of a narrower integer type (INT, SMALLINT) to
/// check. Types with a length or precision, and single-precision floats, are not supported:
/// dozerc would compute something else than Postgres.
pub fn cast_target(data_type: &ast::DataType) -> Option<(SqlType, Option<u8>)> {
    let name = data_type.to_string().to_ascii_uppercase();
    if name.contains('(') {
        return None;
    }
    Some(match name.trim() {
        "BIGINT" | "INT8" => (SqlType::Int, None),
        "INT" | "INTEGER" | "INT4" => (SqlType::Int, Some(32)),
        "SMALLINT" | "INT2" => (SqlType::Int, Some(16)),
        "NUMERIC" | "DECIMAL" => (SqlType::Decimal, None),
        "FLOAT" | "FLOAT8" | "DOUBLE" | "DOUBLE PRECISION" => (SqlType::Float, None),
        "TEXT" | "VARCHAR" | "CHARACTER VARYING" | "STRING" => (SqlType::String, None),
        "BOOLEAN" | "BOOL" => (SqlType::Boolean, None),
        "DATE" => (SqlType::Date, None),
        "TIMESTAMP"
        | "TIMESTAMPTZ"
        | "TIMESTAMP WITHOUT TIME ZONE"
        | "TIMESTAMP WITH TIME ZONE" => (SqlType::Timestamp, None),
        _ => return None,
    })
}

pub fn op_text(op: BinaryOp) -> &'static str {
    match op {
        BinaryOp::Add => "+",
        BinaryOp::Sub => "-",
        BinaryOp::Mul => "*",
        BinaryOp::Div => "/",
        BinaryOp::Rem => "%",
        BinaryOp::Eq => "=",
        BinaryOp::NotEq => "<>",
        BinaryOp::Lt => "<",
        BinaryOp::LtEq => "<=",
        BinaryOp::Gt => ">",
        BinaryOp::GtEq => ">=",
        BinaryOp::And => "AND",
        BinaryOp::Or => "OR",
        BinaryOp::Concat => "||",
    }
}

/// Resolves an identifier: exact when quoted, case-insensitive otherwise.
pub fn find_column(columns: &[Column], ident: &ast::Ident) -> Option<usize> {
    if ident.quote_style.is_some() {
        columns.iter().position(|c| c.name == ident.value)
    } else {
        columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(&ident.value))
    }
}
