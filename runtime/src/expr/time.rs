//! `EXTRACT` and `DATE_TRUNC`, as Postgres computes them on `timestamp` (UTC here).

use super::EvalError;
use crate::types::{Date, Decimal, Timestamp};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, Timelike};

/// A part of a date or time.
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
    Dow,
    IsoDow,
    Doy,
    Epoch,
}

/// `EXTRACT(field FROM ts)`, a numeric as in Postgres 14 and later.
pub fn extract(field: DateField, ts: Option<Timestamp>) -> Option<Decimal> {
    let ts = ts?.naive_utc();
    let micros_of_minute = i64::from(ts.second()) * 1_000_000 + i64::from(ts.nanosecond() / 1_000);
    Some(match field {
        DateField::Hour => ts.hour().into(),
        DateField::Minute => ts.minute().into(),
        DateField::Second => Decimal::new(micros_of_minute, 6),
        DateField::Milliseconds => Decimal::new(micros_of_minute, 3),
        DateField::Microseconds => micros_of_minute.into(),
        DateField::Epoch => Decimal::new(ts.and_utc().timestamp_micros(), 6),
        other => date_part(other, ts.date())?,
    })
}

/// `EXTRACT(field FROM date)`; the binder allows only the date fields (and EPOCH).
pub fn extract_date(field: DateField, date: Option<Date>) -> Option<Decimal> {
    let date = date?;
    match field {
        DateField::Epoch => Some(Decimal::from(
            date.and_hms_opt(0, 0, 0)?.and_utc().timestamp(),
        )),
        other => date_part(other, date),
    }
}

fn date_part(field: DateField, date: NaiveDate) -> Option<Decimal> {
    let year = i64::from(date.year());
    Some(Decimal::from(match field {
        DateField::Millennium => (year + 999).div_euclid(1000),
        DateField::Century => (year + 99).div_euclid(100),
        DateField::Decade => year.div_euclid(10),
        DateField::Year => year,
        DateField::Quarter => i64::from((date.month() - 1) / 3 + 1),
        DateField::Month => date.month().into(),
        DateField::Week => date.iso_week().week().into(),
        DateField::Day => date.day().into(),
        DateField::Dow => date.weekday().num_days_from_sunday().into(),
        DateField::IsoDow => date.weekday().number_from_monday().into(),
        DateField::Doy => date.ordinal().into(),
        _ => return None,
    }))
}

/// `DATE_TRUNC('field', ts)`: the start of the field's period holding `ts` (weeks start on
/// Monday).
pub fn date_trunc(field: DateField, ts: Option<Timestamp>) -> Result<Option<Timestamp>, EvalError> {
    let Some(ts) = ts else {
        return Ok(None);
    };
    let t = ts.naive_utc();
    let date = t.date();
    let midnight = |d: NaiveDate| d.and_hms_opt(0, 0, 0);
    let first_of = |year: i32, month: u32| NaiveDate::from_ymd_opt(year, month, 1);
    let truncated: Option<NaiveDateTime> = match field {
        DateField::Microseconds => Some(t),
        DateField::Milliseconds => t.with_nanosecond(t.nanosecond() / 1_000_000 * 1_000_000),
        DateField::Second => t.with_nanosecond(0),
        DateField::Minute => t.with_nanosecond(0).and_then(|t| t.with_second(0)),
        DateField::Hour => t
            .with_nanosecond(0)
            .and_then(|t| t.with_second(0))
            .and_then(|t| t.with_minute(0)),
        DateField::Day => midnight(date),
        DateField::Week => {
            midnight(date - Duration::days(i64::from(date.weekday().num_days_from_monday())))
        }
        DateField::Month => first_of(date.year(), date.month()).and_then(midnight),
        DateField::Quarter => {
            first_of(date.year(), (date.month() - 1) / 3 * 3 + 1).and_then(midnight)
        }
        DateField::Year => first_of(date.year(), 1).and_then(midnight),
        DateField::Decade => first_of(date.year().div_euclid(10) * 10, 1).and_then(midnight),
        DateField::Century => {
            first_of((date.year() - 1).div_euclid(100) * 100 + 1, 1).and_then(midnight)
        }
        DateField::Millennium => {
            first_of((date.year() - 1).div_euclid(1000) * 1000 + 1, 1).and_then(midnight)
        }
        other => {
            return Err(EvalError::Invalid(format!(
                "unit {other:?} not supported for DATE_TRUNC"
            )))
        }
    };
    Ok(truncated.map(|t| t.and_utc()))
}

/// `ts + INTERVAL`: calendar months first (the day clamped to the month's end, as Postgres), then
/// a fixed number of microseconds.
pub fn add_interval(
    ts: Option<Timestamp>,
    months: i32,
    micros: i64,
) -> Result<Option<Timestamp>, EvalError> {
    let Some(ts) = ts else { return Ok(None) };
    let shifted = match months {
        0 => Some(ts),
        m if m > 0 => ts.checked_add_months(chrono::Months::new(m.unsigned_abs())),
        m => ts.checked_sub_months(chrono::Months::new(m.unsigned_abs())),
    };
    shifted
        .and_then(|t| t.checked_add_signed(Duration::microseconds(micros)))
        .map(Some)
        .ok_or(EvalError::Overflow("Timestamp"))
}

/// `date + n`: `n` days later.
pub fn date_add_days(date: Option<Date>, days: Option<i64>) -> Result<Option<Date>, EvalError> {
    let (Some(date), Some(days)) = (date, days) else {
        return Ok(None);
    };
    Duration::try_days(days)
        .and_then(|d| date.checked_add_signed(d))
        .map(Some)
        .ok_or(EvalError::Overflow("Date"))
}

/// `a - b` on dates: the days between them.
pub fn date_diff(a: Option<Date>, b: Option<Date>) -> Option<i64> {
    Some((a? - b?).num_days())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Option<Timestamp> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn extract_and_trunc_follow_postgres() {
        let ts = at("2011-03-06T10:20:30.5Z");
        assert_eq!(
            extract(DateField::Second, ts).unwrap().to_string(),
            "30.500000"
        );
        assert_eq!(extract(DateField::Dow, ts), Some(0.into()), "a Sunday");
        assert_eq!(extract(DateField::IsoDow, ts), Some(7.into()));
        assert_eq!(extract(DateField::Quarter, ts), Some(1.into()));
        assert_eq!(extract(DateField::Century, ts), Some(21.into()));
        assert_eq!(
            extract(DateField::Epoch, at("1970-01-02T00:00:00Z"))
                .unwrap()
                .to_string(),
            "86400.000000"
        );
        assert_eq!(
            date_trunc(DateField::Week, ts),
            Ok(at("2011-02-28T00:00:00Z"))
        );
        assert_eq!(
            date_trunc(DateField::Quarter, ts),
            Ok(at("2011-01-01T00:00:00Z"))
        );
        assert_eq!(
            date_trunc(DateField::Century, ts),
            Ok(at("2001-01-01T00:00:00Z"))
        );
        assert_eq!(
            date_trunc(DateField::Hour, ts),
            Ok(at("2011-03-06T10:00:00Z"))
        );
    }
}
