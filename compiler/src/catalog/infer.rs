//! Column type inference from a CSV header and a sample of rows.

use crate::plan::SqlType;
use std::path::Path;

/// Reads the header of `path` and infers a type per column from up to `sample` rows.
pub fn infer_file(path: &Path, sample: usize) -> Result<(Vec<String>, Vec<SqlType>), csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)?;
    let header: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_string())
        .collect();
    let mut candidates: Vec<Option<Candidate>> = vec![None; header.len()];
    for record in reader.records().take(sample) {
        let record = record?;
        for (i, text) in record.iter().enumerate().take(header.len()) {
            if text.is_empty() {
                continue;
            }
            let seen = Candidate::of(text);
            candidates[i] = Some(match candidates[i] {
                None => seen,
                Some(previous) => previous.widen(seen),
            });
        }
    }
    // A column that was empty in the whole sample is text: the safest choice.
    let types = candidates
        .into_iter()
        .map(|c| c.map_or(SqlType::String, Candidate::sql_type))
        .collect();
    Ok((header, types))
}

/// The narrowest type a sampled value fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Candidate {
    Int,
    Decimal,
    Float,
    Boolean,
    Date,
    Timestamp,
    String,
}

impl Candidate {
    fn of(text: &str) -> Candidate {
        let t = text.trim();
        if t.parse::<i64>().is_ok() {
            Candidate::Int
        } else if t.parse::<rust_decimal::Decimal>().is_ok() {
            Candidate::Decimal
        } else if t.parse::<f64>().is_ok() && t.chars().any(|c| c.is_ascii_digit()) {
            Candidate::Float
        } else if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
            Candidate::Boolean
        } else if chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d").is_ok() {
            Candidate::Date
        } else if looks_like_timestamp(t) {
            Candidate::Timestamp
        } else {
            Candidate::String
        }
    }

    /// The narrowest type both values fit.
    fn widen(self, other: Candidate) -> Candidate {
        use Candidate::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Int, Decimal) | (Decimal, Int) => Decimal,
            (Int | Decimal, Float) | (Float, Int | Decimal) => Float,
            (Date, Timestamp) | (Timestamp, Date) => Timestamp,
            _ => String,
        }
    }

    fn sql_type(self) -> SqlType {
        match self {
            Candidate::Int => SqlType::Int,
            Candidate::Decimal => SqlType::Decimal,
            Candidate::Float => SqlType::Float,
            Candidate::Boolean => SqlType::Boolean,
            Candidate::Date => SqlType::Date,
            Candidate::Timestamp => SqlType::Timestamp,
            Candidate::String => SqlType::String,
        }
    }
}

/// ISO 8601 date-times, with or without an offset (the forms the runtime accepts).
fn looks_like_timestamp(t: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(t).is_ok()
        || [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ]
        .iter()
        .any(|f| chrono::NaiveDateTime::parse_from_str(t, f).is_ok())
        || ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"]
            .iter()
            .any(|f| chrono::DateTime::parse_from_str(t, f).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_the_narrowest_common_type() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        std::fs::write(
            &path,
            "a,b,c,d,e\n1,1,x,2010-12-01T08:26:00,\n2,2.5,3,2010-12-01 09:00:00,\n",
        )
        .unwrap();
        let (header, types) = infer_file(&path, 10).unwrap();
        assert_eq!(header, ["a", "b", "c", "d", "e"]);
        std::fs::write(&path, "\u{feff}a\n1\n").unwrap();
        assert_eq!(
            infer_file(&path, 10).unwrap().0,
            ["a"],
            "a byte order mark is not part of the name"
        );
        assert_eq!(
            types,
            [
                SqlType::Int,
                SqlType::Decimal,
                SqlType::String,
                SqlType::Timestamp,
                SqlType::String
            ]
        );
    }
}
