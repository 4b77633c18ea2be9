//! Typed expressions.

use super::SqlType;
use crate::diagnostics::Span;

/// A typed, name-resolved expression.
#[derive(Clone, Debug)]
pub struct Expr {
    pub kind: ExprKind,
    pub ty: SqlType,
    pub nullable: bool,
    /// Where it came from in the config file (for messages).
    pub span: Span,
}

/// Equality ignores spans: `GROUP BY Country` and `SELECT Country` are the same expression.
impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.ty == other.ty
    }
}

impl Expr {
    /// Adds the input columns this expression reads to `out`.
    pub fn collect_columns(&self, out: &mut std::collections::BTreeSet<usize>) {
        match &self.kind {
            ExprKind::Column(i) => {
                out.insert(*i);
            }
            ExprKind::Binary { left, right, .. } => {
                left.collect_columns(out);
                right.collect_columns(out);
            }
            ExprKind::Negate(e)
            | ExprKind::Not(e)
            | ExprKind::Cast(e)
            | ExprKind::IsNull { expr: e, .. } => e.collect_columns(out),
            ExprKind::Literal(_) | ExprKind::GroupKey(_) | ExprKind::Aggregate(_) => {}
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// Column `index` of the input table.
    Column(usize),
    Literal(Literal),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    Negate(Box<Expr>),
    Not(Box<Expr>),
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    /// A numeric promotion or an explicit CAST.
    Cast(Box<Expr>),
    /// Group key part `i` (only in aggregation outputs and HAVING).
    GroupKey(usize),
    /// The value of aggregate `i` (only in aggregation outputs and HAVING).
    Aggregate(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Int(i64),
    /// A numeric literal with a fraction, kept as text so it stays exact.
    Decimal(String),
    Float(f64),
    Boolean(bool),
    String(String),
    /// Microseconds since the Unix epoch, UTC.
    Timestamp(i64),
    /// Days since 0001-01-01 (CE).
    Date(i32),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
    Concat,
}

impl BinaryOp {
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::NotEq
                | BinaryOp::Lt
                | BinaryOp::LtEq
                | BinaryOp::Gt
                | BinaryOp::GtEq
        )
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Rem
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggFunc {
    Sum,
    /// `COUNT(*)`: `arg` is None.
    Count,
    Avg,
    Min,
    Max,
}

impl AggFunc {
    pub fn from_name(name: &str) -> Option<AggFunc> {
        Some(match name.to_ascii_lowercase().as_str() {
            "sum" => AggFunc::Sum,
            "count" => AggFunc::Count,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            _ => return None,
        })
    }
}

/// One aggregate call of an aggregation, over an input-row expression.
#[derive(Clone, Debug, PartialEq)]
pub struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    /// The result type.
    pub ty: SqlType,
}
