//! `dozerc token`: issues a bearer token for a pipeline's APIs, signed with the config's
//! `api.api_security` secret (or `DOZER_JWT_SECRET`, which the running pipeline prefers too).
//!
//! The claims and the signing are the runtime's own code (`runtime/src/api/token.rs`, compiled
//! in here as a module), so a token this command prints is exactly what the pipeline accepts.

use crate::config::LoadedConfig;
use crate::diagnostics::{closest, render};
use std::path::Path;
use std::time::Duration;

/// The runtime's token format, shared as a source file.
#[path = "../../../runtime/src/api/token.rs"]
#[allow(dead_code)] // `Verifier` and `TokenError` serve the runtime
mod claims;

pub use claims::{Access, EndpointAccess, SECRET_ENV};

/// Lifetime of a token when `--ttl` is not given.
pub const DEFAULT_TTL: &str = "24h";

/// One `--endpoint NAME [--filter JSON]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub endpoint: String,
    pub filter: Option<String>,
}

/// Prints a token for `grants` (all endpoints when empty) on stdout, and what it grants and
/// until when on stderr, so `TOKEN=$(dozerc token ...)` captures only the token.
pub fn token(config: &Path, grants: &[Grant], ttl: &str) -> Result<(), String> {
    let loaded = crate::config::load(config).map_err(|e| render(&e))?;
    let ttl = parse_ttl(ttl)?;
    let access = access(&loaded, grants)?;
    let (secret, from) = secret(&loaded, std::env::var_os(SECRET_ENV))?;
    let token = claims::issue_token(&secret, &access, ttl).map_err(|e| format!("error: {e}"))?;
    println!("{token}");
    let expires = chrono::Utc::now() + chrono::Duration::seconds(ttl.as_secs() as i64);
    let what = match &access {
        Access::All => "every endpoint".to_string(),
        Access::Custom(map) => map
            .iter()
            .map(|(name, grant)| match grant.filter {
                Some(_) => format!("`{name}` (filtered)"),
                None => format!("`{name}`"),
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    eprintln!(
        "token for {what}, signed with the secret of {from}, expires {}",
        expires.format("%Y-%m-%d %H:%M:%S UTC")
    );
    Ok(())
}

/// The `access` claim: `All` without grants, else each named endpoint with its filter.
fn access(loaded: &LoadedConfig, grants: &[Grant]) -> Result<Access, String> {
    if grants.is_empty() {
        return Ok(Access::All);
    }
    let names: Vec<&str> = loaded
        .config
        .endpoints
        .iter()
        .map(|e| e.name.as_str())
        .collect();
    let mut map = std::collections::BTreeMap::new();
    for grant in grants {
        let name = grant.endpoint.as_str();
        if !names.contains(&name) {
            let hint = closest(name, names.iter().copied())
                .map(|best| format!(" (did you mean `{best}`?)"))
                .unwrap_or_default();
            let known = if names.is_empty() {
                "the config defines no endpoints".to_string()
            } else {
                format!("endpoints: {}", names.join(", "))
            };
            return Err(format!(
                "error: --endpoint `{name}`: no such endpoint in {}{hint}; {known}",
                loaded.file.name
            ));
        }
        let filter = grant
            .filter
            .as_deref()
            .map(|text| parse_filter(name, text))
            .transpose()?;
        if map
            .insert(name.to_string(), EndpointAccess { filter })
            .is_some()
        {
            return Err(format!(
                "error: --endpoint `{name}` is given twice; give it once, with one --filter (use `$or` to allow several sets of rows)"
            ));
        }
    }
    Ok(Access::Custom(map))
}

/// A `--filter`: a JSON object (its fields are checked by the pipeline when the token is
/// used, against the endpoint's columns).
fn parse_filter(endpoint: &str, text: &str) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("error: --filter of `{endpoint}` is not JSON: {e}"))?;
    if !value.is_object() {
        return Err(format!(
            "error: --filter of `{endpoint}` must be a JSON object such as '{{\"Country\": \"UK\"}}', found {value}"
        ));
    }
    Ok(value)
}

/// The secret and where it came from: `DOZER_JWT_SECRET` when set, else the config's.
fn secret(
    loaded: &LoadedConfig,
    env: Option<std::ffi::OsString>,
) -> Result<(String, String), String> {
    if let Some(value) = env {
        let secret = value
            .into_string()
            .map_err(|_| format!("error: {SECRET_ENV} is not valid UTF-8"))?;
        claims::check_secret(&secret).map_err(|e| format!("error: {SECRET_ENV}: {e}"))?;
        return Ok((secret, SECRET_ENV.to_string()));
    }
    match &loaded.config.api.api_security {
        Some(security) => Ok((
            security.jwt_secret().to_string(),
            format!("`api.api_security` in {}", loaded.file.name),
        )),
        None => Err(format!(
            "error: {} has no `api.api_security` and {SECRET_ENV} is not set, so its API is not secured and needs no token; add `api_security: !Jwt <secret>` under `api:` or set {SECRET_ENV}",
            loaded.file.name
        )),
    }
}

/// `90s`, `30m`, `12h`, `7d`, `2w`, or a number of seconds.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        format!("error: --ttl `{text}`: expected a number and a unit, e.g. 90s, 30m, 12h, 7d or 2w")
    };
    let number: u64 = number.parse().map_err(|_| bad())?;
    let unit_secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(bad()),
    };
    // A century is plenty, and keeps `exp` far from overflow.
    const MAX_SECS: u64 = 100 * 365 * 86_400;
    match number.checked_mul(unit_secs) {
        Some(0) => Err(format!(
            "error: --ttl `{text}`: a token must live longer than 0 seconds"
        )),
        Some(secs) if secs <= MAX_SECS => Ok(Duration::from_secs(secs)),
        _ => Err(format!("error: --ttl `{text}`: at most 100 years")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_ttl("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_ttl("12h"), Ok(Duration::from_secs(43_200)));
        assert_eq!(parse_ttl("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_ttl("2w"), Ok(Duration::from_secs(1_209_600)));
        assert_eq!(parse_ttl(DEFAULT_TTL), Ok(Duration::from_secs(86_400)));
        for bad in ["", "h", "1y", "-5s", "1.5h"] {
            assert!(
                parse_ttl(bad)
                    .unwrap_err()
                    .contains("expected a number and a unit"),
                "{bad}"
            );
        }
        assert!(parse_ttl("0s").unwrap_err().contains("longer than 0"));
        assert!(parse_ttl("99999999999999999999d").is_err());
        assert!(parse_ttl("40000d")
            .unwrap_err()
            .contains("at most 100 years"));
    }

    #[test]
    fn filters_must_be_json_objects() {
        assert!(parse_filter("e", r#"{"a": 1}"#).is_ok());
        assert!(parse_filter("e", "{a: 1}")
            .unwrap_err()
            .starts_with("error: --filter of `e` is not JSON: "));
        assert!(parse_filter("e", "[1]")
            .unwrap_err()
            .contains("must be a JSON object"));
    }
}
