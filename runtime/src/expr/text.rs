//! String functions and LIKE, as Postgres defines them on characters (not bytes).

use super::EvalError;

/// `LENGTH(s)`: the number of characters.
pub fn length(s: Option<String>) -> Option<i64> {
    s.map(|s| s.chars().count() as i64)
}

/// `UPPER(s)`: character by character, as Postgres' `towupper` (a character whose upper case is
/// several characters, like `ß`, stays as it is).
pub fn upper(s: Option<String>) -> Option<String> {
    s.map(|s| s.chars().map(upper_char).collect())
}

/// `LOWER(s)`: character by character (no final-sigma rule), as Postgres' `towlower`.
pub fn lower(s: Option<String>) -> Option<String> {
    s.map(|s| s.chars().map(lower_char).collect())
}

fn upper_char(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

fn lower_char(c: char) -> char {
    let mut low = c.to_lowercase();
    match (low.next(), low.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// `CONCAT(a, b, ...)`: the text of every argument, NULLs skipped; never NULL.
pub fn concat_all<const N: usize>(parts: [Option<String>; N]) -> Option<String> {
    Some(parts.into_iter().flatten().collect())
}

/// `SUBSTRING(s FROM start [FOR count])`: characters `start..start + count`, 1-based; a start
/// before 1 still counts towards `count`, as in Postgres.
pub fn substring(
    s: Option<String>,
    start: Option<i64>,
    count: Option<Option<i64>>,
) -> Result<Option<String>, EvalError> {
    let (Some(s), Some(start)) = (s, start) else {
        return Ok(None);
    };
    let end = match count {
        None => None,
        Some(None) => return Ok(None),
        Some(Some(n)) if n < 0 => {
            return Err(EvalError::Invalid(
                "negative substring length not allowed".into(),
            ))
        }
        Some(Some(n)) => Some(start.saturating_add(n)),
    };
    let first = start.max(1);
    Ok(Some(
        s.chars()
            .enumerate()
            .map(|(i, c)| (i as i64 + 1, c))
            .filter(|(pos, _)| *pos >= first && end.is_none_or(|e| *pos < e))
            .map(|(_, c)| c)
            .collect(),
    ))
}

/// Which ends `TRIM` removes characters from.
#[derive(Clone, Copy, Debug)]
pub enum TrimSide {
    Both,
    Leading,
    Trailing,
}

/// `TRIM([side] [chars FROM] s)`: removes any of `chars` (a space by default) from `side`.
pub fn trim(s: Option<String>, chars: Option<String>, side: TrimSide) -> Option<String> {
    let (s, chars) = (s?, chars?);
    let strip = |c: char| chars.contains(c);
    Some(
        match side {
            TrimSide::Both => s.trim_matches(strip),
            TrimSide::Leading => s.trim_start_matches(strip),
            TrimSide::Trailing => s.trim_end_matches(strip),
        }
        .to_string(),
    )
}

/// `REPLACE(s, from, to)`: every occurrence; an empty `from` changes nothing.
pub fn replace(s: Option<String>, from: Option<String>, to: Option<String>) -> Option<String> {
    let (s, from, to) = (s?, from?, to?);
    if from.is_empty() {
        return Some(s);
    }
    Some(s.replace(&from, &to))
}

/// `POSITION(needle IN haystack)`: the 1-based character position of the first match, 0 when
/// there is none (1 for an empty needle).
pub fn position(needle: Option<String>, haystack: Option<String>) -> Option<i64> {
    let (needle, haystack) = (needle?, haystack?);
    Some(
        haystack
            .find(&needle)
            .map_or(0, |byte| haystack[..byte].chars().count() as i64 + 1),
    )
}

/// `s [NOT] LIKE pattern [ESCAPE e]` (ILIKE when `case_insensitive`): `%` matches any run of
/// characters, `_` one character, and the escape character (a backslash unless another is given,
/// none when it is empty) makes the next one literal.
pub fn like(
    s: Option<&str>,
    pattern: Option<&str>,
    escape: Option<char>,
    case_insensitive: bool,
) -> Result<Option<bool>, EvalError> {
    let (Some(s), Some(pattern)) = (s, pattern) else {
        return Ok(None);
    };
    let tokens = like_tokens(pattern, escape)?;
    // ILIKE compares lower-cased characters, one for one.
    let text: Vec<char> = if case_insensitive {
        s.chars().map(lower_char).collect()
    } else {
        s.chars().collect()
    };
    let tokens: Vec<LikeToken> = if case_insensitive {
        tokens
            .into_iter()
            .map(|t| match t {
                LikeToken::Char(c) => LikeToken::Char(lower_char(c)),
                other => other,
            })
            .collect()
    } else {
        tokens
    };
    Ok(Some(like_matches(&text, &tokens)))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum LikeToken {
    Char(char),
    One,
    Any,
}

fn like_tokens(pattern: &str, escape: Option<char>) -> Result<Vec<LikeToken>, EvalError> {
    let mut tokens = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        tokens.push(match c {
            c if Some(c) == escape => match chars.next() {
                Some(next) => LikeToken::Char(next),
                None => {
                    return Err(EvalError::Invalid(
                        "LIKE pattern must not end with escape character".into(),
                    ))
                }
            },
            '%' => LikeToken::Any,
            '_' => LikeToken::One,
            c => LikeToken::Char(c),
        });
    }
    Ok(tokens)
}

/// Greedy matching with one backtrack point per `%`: linear in practice, never exponential.
fn like_matches(text: &[char], tokens: &[LikeToken]) -> bool {
    let (mut t, mut p) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(LikeToken::Any) => {
                resume = Some((p, t));
                p += 1;
            }
            Some(LikeToken::One) => {
                t += 1;
                p += 1;
            }
            Some(LikeToken::Char(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            _ => match resume {
                Some((any, from)) => {
                    p = any + 1;
                    t = from + 1;
                    resume = Some((any, from + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(|t| *t == LikeToken::Any)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn substring_counts_characters_from_one() {
        assert_eq!(substring(s("héllo"), Some(2), Some(Some(3))), Ok(s("éll")));
        assert_eq!(substring(s("hello"), Some(0), Some(Some(3))), Ok(s("he")));
        assert_eq!(substring(s("hello"), Some(-5), None), Ok(s("hello")));
        assert_eq!(substring(s("hello"), Some(9), None), Ok(s("")));
        assert!(substring(s("hello"), Some(1), Some(Some(-1))).is_err());
        assert_eq!(substring(s("hello"), Some(1), Some(None)), Ok(None));
    }

    #[test]
    fn trim_replace_position() {
        assert_eq!(trim(s("xxhixx"), s("x"), TrimSide::Leading), s("hixx"));
        assert_eq!(trim(s("  hi "), s(" "), TrimSide::Both), s("hi"));
        assert_eq!(replace(s("a-b-c"), s("-"), s("+")), s("a+b+c"));
        assert_eq!(replace(s("abc"), s(""), s("x")), s("abc"));
        assert_eq!(position(s("l"), s("héllo")), Some(3));
        assert_eq!(position(s("z"), s("hello")), Some(0));
        assert_eq!(position(s(""), s("hello")), Some(1));
    }

    #[test]
    fn like_follows_postgres() {
        let like = |s: &str, p: &str| like(Some(s), Some(p), Some('\\'), false).unwrap();
        assert_eq!(like("hello", "h%o"), Some(true));
        assert_eq!(like("hello", "h_llo"), Some(true));
        assert_eq!(like("hello", "%l"), Some(false));
        assert_eq!(like("hello", "%l%"), Some(true));
        assert_eq!(like("a%b", "a\\%b"), Some(true));
        assert_eq!(like("axb", "a\\%b"), Some(false));
        assert_eq!(like("", "%"), Some(true));
        assert_eq!(like("mississippi", "%iss%ppi"), Some(true));
        assert_eq!(
            super::like(Some("HeLLo"), Some("hel%"), Some('\\'), true),
            Ok(Some(true))
        );
        assert!(super::like(Some("a"), Some("a\\"), Some('\\'), false).is_err());
        assert_eq!(
            super::like(Some("ΟΔΟΣ"), Some("ΟΔΟΣ"), None, true),
            Ok(Some(true))
        );
        assert_eq!(upper(s("straße")), s("STRAßE"));
        assert_eq!(lower(s("ΟΔΟΣ")), s("οδοσ"));
        assert_eq!(super::like(None, Some("%"), None, false), Ok(None));
    }
}
