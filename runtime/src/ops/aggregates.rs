//! Aggregate accumulators that support retraction (negative weights), so deletes and updates
//! change results. MIN and MAX keep a multiset of values so they survive deleting the extreme.

use crate::expr::EvalError;
use crate::types::{Decimal, Float};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

/// A type SUM and AVG can add up, with the accumulator that avoids intermediate overflow.
pub trait SumValue: Clone {
    type Acc: Default + Clone + std::fmt::Debug + Serialize + DeserializeOwned;
    fn accumulate(acc: &mut Self::Acc, value: &Self, weight: i64) -> Result<(), EvalError>;
    fn finish(acc: &Self::Acc) -> Result<Self, EvalError>;
    /// `acc / count`, in the type Postgres' AVG returns for this input.
    fn average(acc: &Self::Acc, count: i64) -> Result<Self::Avg, EvalError>;
    type Avg;
}

impl SumValue for i64 {
    type Acc = i128;
    type Avg = Decimal;
    fn accumulate(acc: &mut i128, value: &i64, weight: i64) -> Result<(), EvalError> {
        *acc += i128::from(*value) * i128::from(weight);
        Ok(())
    }
    fn finish(acc: &i128) -> Result<i64, EvalError> {
        i64::try_from(*acc).map_err(|_| EvalError::Overflow("Int"))
    }
    fn average(acc: &i128, count: i64) -> Result<Decimal, EvalError> {
        let sum = Decimal::try_from_i128_with_scale(*acc, 0)
            .map_err(|_| EvalError::Overflow("Decimal"))?;
        crate::expr::Arith::div(sum, Decimal::from(count))
    }
}

impl SumValue for u64 {
    type Acc = i128;
    type Avg = Decimal;
    fn accumulate(acc: &mut i128, value: &u64, weight: i64) -> Result<(), EvalError> {
        *acc += i128::from(*value) * i128::from(weight);
        Ok(())
    }
    fn finish(acc: &i128) -> Result<u64, EvalError> {
        u64::try_from(*acc).map_err(|_| EvalError::Overflow("UInt"))
    }
    fn average(acc: &i128, count: i64) -> Result<Decimal, EvalError> {
        i64::average(acc, count)
    }
}

impl SumValue for Decimal {
    type Acc = Decimal;
    type Avg = Decimal;
    fn accumulate(acc: &mut Decimal, value: &Decimal, weight: i64) -> Result<(), EvalError> {
        // Weights are ±1 but for consolidated changes: no multiplication on the common path.
        let sum = match weight {
            1 => acc.checked_add(*value),
            -1 => acc.checked_sub(*value),
            _ => value
                .checked_mul(Decimal::from(weight))
                .and_then(|term| acc.checked_add(term)),
        };
        *acc = sum.ok_or(EvalError::Overflow("Decimal"))?;
        Ok(())
    }
    fn finish(acc: &Decimal) -> Result<Decimal, EvalError> {
        Ok(*acc)
    }
    fn average(acc: &Decimal, count: i64) -> Result<Decimal, EvalError> {
        crate::expr::Arith::div(*acc, Decimal::from(count))
    }
}

impl SumValue for Float {
    type Acc = f64;
    type Avg = Float;
    fn accumulate(acc: &mut f64, value: &Float, weight: i64) -> Result<(), EvalError> {
        *acc += value.0 * weight as f64;
        Ok(())
    }
    fn finish(acc: &f64) -> Result<Float, EvalError> {
        Ok(Float(*acc))
    }
    fn average(acc: &f64, count: i64) -> Result<Float, EvalError> {
        Ok(Float(*acc / count as f64))
    }
}

/// `SUM(x)`: NULL when the group has no non-NULL x.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Sum<T: SumValue> {
    total: T::Acc,
    non_null: i64,
}

impl<T: SumValue> Default for Sum<T> {
    fn default() -> Self {
        Sum {
            total: T::Acc::default(),
            non_null: 0,
        }
    }
}

impl<T: SumValue> Sum<T> {
    pub fn add(&mut self, value: Option<T>, weight: i64) -> Result<(), EvalError> {
        if let Some(v) = value {
            T::accumulate(&mut self.total, &v, weight)?;
            self.non_null += weight;
        }
        Ok(())
    }

    pub fn value(&self) -> Result<Option<T>, EvalError> {
        if self.non_null == 0 {
            Ok(None)
        } else {
            T::finish(&self.total).map(Some)
        }
    }
}

/// `AVG(x)`: SUM/COUNT over non-NULL values, in Postgres' result type (Int averages to Decimal).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Avg<T: SumValue> {
    sum: Sum<T>,
}

impl<T: SumValue> Default for Avg<T> {
    fn default() -> Self {
        Avg {
            sum: Sum::default(),
        }
    }
}

impl<T: SumValue> Avg<T> {
    pub fn add(&mut self, value: Option<T>, weight: i64) -> Result<(), EvalError> {
        self.sum.add(value, weight)
    }

    pub fn value(&self) -> Result<Option<T::Avg>, EvalError> {
        if self.sum.non_null == 0 {
            Ok(None)
        } else {
            T::average(&self.sum.total, self.sum.non_null).map(Some)
        }
    }
}

/// `COUNT(*)` (use [`Count::add_row`]) or `COUNT(x)` (use [`Count::add`], which skips NULLs).
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct Count {
    count: i64,
}

impl Count {
    pub fn add_row(&mut self, weight: i64) -> Result<(), EvalError> {
        self.count += weight;
        Ok(())
    }

    pub fn add<T>(&mut self, value: &Option<T>, weight: i64) -> Result<(), EvalError> {
        if value.is_some() {
            self.count += weight;
        }
        Ok(())
    }

    pub fn value(&self) -> Result<Option<i64>, EvalError> {
        Ok(Some(self.count))
    }
}

/// A multiset of the group's non-NULL values: MIN and MAX survive deletes of the extreme value.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(serialize = "T: Serialize", deserialize = "T: DeserializeOwned + Ord"))]
struct Multiset<T: Ord> {
    counts: BTreeMap<T, i64>,
}

impl<T: Ord> Default for Multiset<T> {
    fn default() -> Self {
        Multiset {
            counts: BTreeMap::new(),
        }
    }
}

impl<T: Ord> Multiset<T> {
    fn add(&mut self, value: Option<T>, weight: i64) {
        let Some(v) = value else { return };
        match self.counts.entry(v) {
            Entry::Occupied(mut e) => {
                *e.get_mut() += weight;
                if *e.get() == 0 {
                    e.remove();
                }
            }
            Entry::Vacant(e) => {
                e.insert(weight);
            }
        }
    }
}

macro_rules! extreme {
    ($name:ident, $pick:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(bound(serialize = "T: Serialize", deserialize = "T: DeserializeOwned + Ord"))]
        pub struct $name<T: Ord> {
            values: Multiset<T>,
        }

        impl<T: Ord> Default for $name<T> {
            fn default() -> Self {
                $name {
                    values: Multiset::default(),
                }
            }
        }

        impl<T: Ord + Clone> $name<T> {
            pub fn add(&mut self, value: Option<T>, weight: i64) -> Result<(), EvalError> {
                self.values.add(value, weight);
                Ok(())
            }

            pub fn value(&self) -> Result<Option<T>, EvalError> {
                Ok(self.values.counts.$pick().map(|(v, _)| v.clone()))
            }
        }
    };
}

extreme!(
    Min,
    first_key_value,
    "`MIN(x)`, NULL for a group without non-NULL values."
);
extreme!(
    Max,
    last_key_value,
    "`MAX(x)`, NULL for a group without non-NULL values."
);

/// The rows of a group by `x`, each with the multiset of `y` values of its rows (NULL `y`s
/// counted apart): Dozer's MAX_VALUE and MIN_VALUE.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize, U: Serialize",
    deserialize = "T: DeserializeOwned + Ord, U: DeserializeOwned + Ord"
))]
struct ValuesBy<T: Ord, U: Ord> {
    by: BTreeMap<T, (Multiset<U>, i64)>,
}

impl<T: Ord, U: Ord> Default for ValuesBy<T, U> {
    fn default() -> Self {
        ValuesBy {
            by: BTreeMap::new(),
        }
    }
}

impl<T: Ord, U: Ord + Clone> ValuesBy<T, U> {
    fn add(&mut self, x: Option<T>, y: Option<U>, weight: i64) {
        let Some(x) = x else { return };
        let mut entry = match self.by.entry(x) {
            Entry::Occupied(e) => e,
            Entry::Vacant(e) => {
                let (values, nulls) = e.insert((Multiset::default(), 0));
                match y {
                    Some(y) => values.add(Some(y), weight),
                    None => *nulls += weight,
                }
                return;
            }
        };
        let (values, nulls) = entry.get_mut();
        match y {
            Some(y) => values.add(Some(y), weight),
            None => *nulls += weight,
        }
        if values.counts.is_empty() && *nulls == 0 {
            entry.remove();
        }
    }

    /// The greatest `y` of the rows at `x` (NULL when they all have NULL).
    fn pick(entry: Option<(&T, &(Multiset<U>, i64))>) -> Option<U> {
        entry.and_then(|(_, (values, _))| values.counts.last_key_value().map(|(y, _)| y.clone()))
    }
}

macro_rules! value_at_extreme {
    ($name:ident, $pick:ident, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Debug, Serialize, Deserialize)]
        #[serde(bound(
            serialize = "T: Serialize, U: Serialize",
            deserialize = "T: DeserializeOwned + Ord, U: DeserializeOwned + Ord"
        ))]
        pub struct $name<T: Ord, U: Ord> {
            rows: ValuesBy<T, U>,
        }

        impl<T: Ord, U: Ord> Default for $name<T, U> {
            fn default() -> Self {
                $name {
                    rows: ValuesBy::default(),
                }
            }
        }

        impl<T: Ord, U: Ord + Clone> $name<T, U> {
            pub fn add(
                &mut self,
                x: Option<T>,
                y: Option<U>,
                weight: i64,
            ) -> Result<(), EvalError> {
                self.rows.add(x, y, weight);
                Ok(())
            }

            pub fn value(&self) -> Result<Option<U>, EvalError> {
                Ok(ValuesBy::pick(self.rows.by.$pick()))
            }
        }
    };
}

value_at_extreme!(
    MaxValue,
    last_key_value,
    "Dozer's `MAX_VALUE(x, y)`: `y` of the row with the greatest `x`; ties give the greatest `y`."
);
value_at_extreme!(
    MinValue,
    first_key_value,
    "Dozer's `MIN_VALUE(x, y)`: `y` of the row with the least `x`; ties give the greatest `y`."
);

/// An accumulator `f(DISTINCT x)` feeds each distinct value into, once.
pub trait DistinctInput<T> {
    type Output;
    fn add_value(&mut self, value: T, weight: i64) -> Result<(), EvalError>;
    fn output(&self) -> Result<Option<Self::Output>, EvalError>;
}

impl<T> DistinctInput<T> for Count {
    type Output = i64;
    fn add_value(&mut self, _value: T, weight: i64) -> Result<(), EvalError> {
        self.add_row(weight)
    }
    fn output(&self) -> Result<Option<i64>, EvalError> {
        self.value()
    }
}

impl<T: SumValue> DistinctInput<T> for Sum<T> {
    type Output = T;
    fn add_value(&mut self, value: T, weight: i64) -> Result<(), EvalError> {
        self.add(Some(value), weight)
    }
    fn output(&self) -> Result<Option<T>, EvalError> {
        self.value()
    }
}

impl<T: SumValue> DistinctInput<T> for Avg<T> {
    type Output = T::Avg;
    fn add_value(&mut self, value: T, weight: i64) -> Result<(), EvalError> {
        self.add(Some(value), weight)
    }
    fn output(&self) -> Result<Option<T::Avg>, EvalError> {
        self.value()
    }
}

/// `COUNT(DISTINCT x)`, `SUM(DISTINCT x)`, `AVG(DISTINCT x)`: a multiset of the group's values,
/// and the inner accumulator `A` over each value present at least once.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(bound(
    serialize = "T: Serialize, A: Serialize",
    deserialize = "T: DeserializeOwned + Ord, A: DeserializeOwned"
))]
pub struct Distinct<T: Ord, A> {
    values: Multiset<T>,
    inner: A,
}

impl<T: Ord, A: Default> Default for Distinct<T, A> {
    fn default() -> Self {
        Distinct {
            values: Multiset::default(),
            inner: A::default(),
        }
    }
}

impl<T: Ord + Clone, A: DistinctInput<T>> Distinct<T, A> {
    pub fn add(&mut self, value: Option<T>, weight: i64) -> Result<(), EvalError> {
        let Some(v) = value else { return Ok(()) };
        let before = self.values.counts.get(&v).copied().unwrap_or(0);
        self.values.add(Some(v.clone()), weight);
        let after = before + weight;
        match (before > 0, after > 0) {
            (false, true) => self.inner.add_value(v, 1),
            (true, false) => self.inner.add_value(v, -1),
            _ => Ok(()),
        }
    }

    pub fn value(&self) -> Result<Option<A::Output>, EvalError> {
        self.inner.output()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_retracts_and_becomes_null() {
        let mut s = Sum::<i64>::default();
        s.add(Some(5), 1).unwrap();
        s.add(None, 1).unwrap();
        s.add(Some(7), 1).unwrap();
        assert_eq!(s.value().unwrap(), Some(12));
        s.add(Some(5), -1).unwrap();
        s.add(Some(7), -1).unwrap();
        assert_eq!(s.value().unwrap(), None);
    }

    #[test]
    fn max_survives_deleting_the_maximum() {
        let mut m = Max::<i64>::default();
        for v in [3, 9, 9, 4] {
            m.add(Some(v), 1).unwrap();
        }
        m.add(Some(9), -1).unwrap();
        assert_eq!(m.value().unwrap(), Some(9));
        m.add(Some(9), -1).unwrap();
        assert_eq!(m.value().unwrap(), Some(4));
        let mut n = Min::<i64>::default();
        n.add(Some(2), 1).unwrap();
        n.add(Some(2), -1).unwrap();
        assert_eq!(n.value().unwrap(), None);
    }

    #[test]
    fn distinct_values_count_once_until_their_last_copy_goes() {
        let mut c = Distinct::<i64, Count>::default();
        let mut s = Distinct::<i64, Sum<i64>>::default();
        for v in [3, 3, 5, 7] {
            c.add(Some(v), 1).unwrap();
            s.add(Some(v), 1).unwrap();
        }
        c.add(None, 1).unwrap();
        assert_eq!(
            (c.value().unwrap(), s.value().unwrap()),
            (Some(3), Some(15))
        );
        c.add(Some(3), -1).unwrap();
        s.add(Some(3), -1).unwrap();
        assert_eq!(
            (c.value().unwrap(), s.value().unwrap()),
            (Some(3), Some(15))
        );
        c.add(Some(3), -1).unwrap();
        s.add(Some(3), -1).unwrap();
        assert_eq!(
            (c.value().unwrap(), s.value().unwrap()),
            (Some(2), Some(12))
        );
    }

    #[test]
    fn max_value_returns_the_value_at_the_extreme_and_survives_deletes() {
        let mut m = MaxValue::<i64, String>::default();
        let s = |v: &str| Some(v.to_string());
        m.add(Some(5), s("five"), 1).unwrap();
        m.add(Some(9), s("nine"), 1).unwrap();
        m.add(Some(9), s("NINE"), 1).unwrap();
        m.add(None, s("null x"), 1).unwrap();
        assert_eq!(m.value().unwrap(), s("nine"), "a tie gives the greatest y");
        m.add(Some(9), s("nine"), -1).unwrap();
        assert_eq!(m.value().unwrap(), s("NINE"));
        m.add(Some(9), s("NINE"), -1).unwrap();
        assert_eq!(m.value().unwrap(), s("five"));
        let mut n = MinValue::<i64, String>::default();
        n.add(Some(1), None, 1).unwrap();
        n.add(Some(2), s("two"), 1).unwrap();
        assert_eq!(n.value().unwrap(), None, "the least x has only a NULL y");
    }

    #[test]
    fn avg_of_ints_is_decimal() {
        let mut a = Avg::<i64>::default();
        a.add(Some(1), 1).unwrap();
        a.add(Some(2), 1).unwrap();
        assert_eq!(a.value().unwrap(), Some(Decimal::new(15, 1)));
        let c = Count::default();
        assert_eq!(c.value().unwrap(), Some(0));
    }
}
