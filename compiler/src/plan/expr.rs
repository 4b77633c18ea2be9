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
            _ => self.children().for_each(|c| c.collect_columns(out)),
        }
    }

    /// Renumbers the input columns this expression reads (when its input's columns move, as
    /// for the right side of a join).
    pub fn map_columns(&mut self, f: &impl Fn(usize) -> usize) {
        match &mut self.kind {
            ExprKind::Column(i) => *i = f(*i),
            _ => self.children_mut().for_each(|c| c.map_columns(f)),
        }
    }

    /// The expressions directly inside this one.
    fn children(&self) -> Box<dyn Iterator<Item = &Expr> + '_> {
        match &self.kind {
            ExprKind::Binary { left, right, .. } => Box::new([&**left, &**right].into_iter()),
            ExprKind::Negate(e)
            | ExprKind::Not(e)
            | ExprKind::Cast(e)
            | ExprKind::IsNull { expr: e, .. } => Box::new(std::iter::once(&**e)),
            ExprKind::Case {
                branches,
                otherwise,
            } => Box::new(
                branches
                    .iter()
                    .flat_map(|(when, then)| [when, then])
                    .chain(otherwise.as_deref()),
            ),
            ExprKind::Call { args, .. } => Box::new(args.iter()),
            ExprKind::InList { expr, list, .. } => Box::new(std::iter::once(&**expr).chain(list)),
            ExprKind::Like { expr, pattern, .. } => Box::new([&**expr, &**pattern].into_iter()),
            ExprKind::Column(_)
            | ExprKind::Literal(_)
            | ExprKind::GroupKey(_)
            | ExprKind::Aggregate(_) => Box::new(std::iter::empty()),
        }
    }

    fn children_mut(&mut self) -> Box<dyn Iterator<Item = &mut Expr> + '_> {
        match &mut self.kind {
            ExprKind::Binary { left, right, .. } => {
                Box::new([&mut **left, &mut **right].into_iter())
            }
            ExprKind::Negate(e)
            | ExprKind::Not(e)
            | ExprKind::Cast(e)
            | ExprKind::IsNull { expr: e, .. } => Box::new(std::iter::once(&mut **e)),
            ExprKind::Case {
                branches,
                otherwise,
            } => Box::new(
                branches
                    .iter_mut()
                    .flat_map(|(when, then)| [when, then])
                    .chain(otherwise.as_deref_mut()),
            ),
            ExprKind::Call { args, .. } => Box::new(args.iter_mut()),
            ExprKind::InList { expr, list, .. } => {
                Box::new(std::iter::once(&mut **expr).chain(list.iter_mut()))
            }
            ExprKind::Like { expr, pattern, .. } => {
                Box::new([&mut **expr, &mut **pattern].into_iter())
            }
            ExprKind::Column(_)
            | ExprKind::Literal(_)
            | ExprKind::GroupKey(_)
            | ExprKind::Aggregate(_) => Box::new(std::iter::empty()),
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
    /// A numeric promotion or an explicit CAST (to the node's type).
    Cast(Box<Expr>),
    /// `CASE WHEN c THEN v ... [ELSE e] END`, every value already of the node's type (a simple
    /// `CASE x WHEN a` is bound as `x = a` conditions).
    Case {
        branches: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    /// A scalar function with arguments already converted to the types it takes.
    Call {
        func: Func,
        args: Vec<Expr>,
    },
    /// `expr [NOT] IN (list)`, the list converted to the type of `expr`.
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `expr [NOT] LIKE | ILIKE pattern [ESCAPE 'c']`.
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<char>,
        negated: bool,
        case_insensitive: bool,
    },
    /// Group key part `i` (only in aggregation outputs and HAVING).
    GroupKey(usize),
    /// The value of aggregate `i` (only in aggregation outputs and HAVING).
    Aggregate(usize),
}

/// Scalar functions, with Postgres' semantics (see `runtime/src/expr/`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Func {
    /// The first non-NULL argument.
    Coalesce,
    /// NULL when both arguments are equal, else the first.
    NullIf,
    Length,
    Upper,
    Lower,
    /// Text of every non-NULL argument, joined.
    Concat,
    /// `SUBSTRING(s FROM start [FOR count])`: `count` is the third argument when present.
    Substring,
    Trim(TrimSide),
    Replace,
    /// `POSITION(needle IN haystack)`: arguments `(needle, haystack)`.
    Position,
    Abs,
    /// One argument, or `(Decimal, Int)` for a number of decimal places.
    Round,
    Ceil,
    Floor,
    Extract(DateField),
    /// `DATE_TRUNC('unit', ts)`: the unit is the field, the argument the timestamp.
    DateTrunc(DateField),
    /// `ts + INTERVAL '...'` (a subtraction has the interval negated): calendar months first,
    /// then a fixed number of microseconds, as Postgres adds to a `timestamp`.
    AddInterval {
        months: i32,
        micros: i64,
    },
    /// `date + n` (days).
    DateAddDays,
    /// `date - date`: the number of days.
    DateDiff,
    /// The value, or an error when it is outside a `bits`-bit signed integer (CAST to INT or
    /// SMALLINT).
    IntRange {
        bits: u8,
    },
    /// `json -> key` (a field name or an array position).
    JsonGet,
    /// `json ->> key`: the selected value's text.
    JsonGetText,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

/// A part of a date or time, for EXTRACT and DATE_TRUNC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DateField {
    Millennium,
    Century,
    Decade,
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Milliseconds,
    Microseconds,
    /// Day of the week, Sunday 0.
    Dow,
    /// Day of the week, Monday 1 (ISO).
    IsoDow,
    Doy,
    /// Seconds since the Unix epoch.
    Epoch,
}

impl DateField {
    pub const NAMES: [(&'static str, DateField); 17] = [
        ("millennium", DateField::Millennium),
        ("century", DateField::Century),
        ("decade", DateField::Decade),
        ("year", DateField::Year),
        ("quarter", DateField::Quarter),
        ("month", DateField::Month),
        ("week", DateField::Week),
        ("day", DateField::Day),
        ("hour", DateField::Hour),
        ("minute", DateField::Minute),
        ("second", DateField::Second),
        ("milliseconds", DateField::Milliseconds),
        ("microseconds", DateField::Microseconds),
        ("dow", DateField::Dow),
        ("isodow", DateField::IsoDow),
        ("doy", DateField::Doy),
        ("epoch", DateField::Epoch),
    ];

    /// The field named `name` (any case, singular or plural as Postgres accepts).
    pub fn from_name(name: &str) -> Option<DateField> {
        let lower = name.to_ascii_lowercase();
        let find = |n: &str| {
            DateField::NAMES
                .iter()
                .find(|(m, _)| *m == n)
                .map(|(_, f)| *f)
        };
        find(&lower).or_else(|| match lower.as_str() {
            "millisecond" => Some(DateField::Milliseconds),
            "microsecond" => Some(DateField::Microseconds),
            "millenniums" | "millennia" => Some(DateField::Millennium),
            "centuries" => Some(DateField::Century),
            "decades" => Some(DateField::Decade),
            _ => lower.strip_suffix('s').and_then(find),
        })
    }

    /// The runtime's name for the field (`expr::DateField::...`).
    pub fn variant(self) -> &'static str {
        match self {
            DateField::Millennium => "Millennium",
            DateField::Century => "Century",
            DateField::Decade => "Decade",
            DateField::Year => "Year",
            DateField::Quarter => "Quarter",
            DateField::Month => "Month",
            DateField::Week => "Week",
            DateField::Day => "Day",
            DateField::Hour => "Hour",
            DateField::Minute => "Minute",
            DateField::Second => "Second",
            DateField::Milliseconds => "Milliseconds",
            DateField::Microseconds => "Microseconds",
            DateField::Dow => "Dow",
            DateField::IsoDow => "IsoDow",
            DateField::Doy => "Doy",
            DateField::Epoch => "Epoch",
        }
    }
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
    /// Dozer's `MAX_VALUE(x, y)`: `y` of the row with the greatest `x` (ties: the greatest `y`).
    MaxValue,
    /// Dozer's `MIN_VALUE(x, y)`: `y` of the row with the least `x` (ties: the greatest `y`).
    MinValue,
}

impl AggFunc {
    pub fn from_name(name: &str) -> Option<AggFunc> {
        Some(match name.to_ascii_lowercase().as_str() {
            "sum" => AggFunc::Sum,
            "count" => AggFunc::Count,
            "avg" => AggFunc::Avg,
            "min" => AggFunc::Min,
            "max" => AggFunc::Max,
            "max_value" => AggFunc::MaxValue,
            "min_value" => AggFunc::MinValue,
            _ => return None,
        })
    }
}

/// One aggregate call of an aggregation, over an input-row expression.
#[derive(Clone, Debug, PartialEq)]
pub struct AggCall {
    pub func: AggFunc,
    pub arg: Option<Expr>,
    /// The value MAX_VALUE and MIN_VALUE return (their second argument).
    pub returned: Option<Expr>,
    /// `f(DISTINCT x)`: each distinct non-NULL value counts once.
    pub distinct: bool,
    /// The result type.
    pub ty: SqlType,
}
