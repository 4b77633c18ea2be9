//! Optional JWT security of the APIs (`api.api_security: !Jwt <secret>`), shared by REST and
//! gRPC: [`Auth::authorize`] turns a request's `Authorization` value into "allowed, with this
//! row filter" or a 401/403, so that both APIs refuse and restrict alike.
//!
//! The token format (claims, signing) is in [`super::token`]; this module adds what needs the
//! runtime: endpoints, filters and API errors.

use super::token::Verifier;
pub use super::token::{
    check_secret, issue_token, sign, Access, AuthError, Claims, EndpointAccess, TokenError,
    MIN_SECRET_BYTES, SECRET_ENV,
};
use super::{ApiError, EndpointDecl, Filter};
use std::sync::Arc;

/// The API's security: off, or the secret tokens must be signed with. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    verifier: Option<Arc<Verifier>>,
}

impl std::fmt::Debug for Auth {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("enabled", &self.enabled())
            .finish()
    }
}

impl Auth {
    /// `None`: security off, everything allowed. The secret's length is checked where it is
    /// configured ([`secret_from`], dozerc), not here.
    pub fn new(secret: Option<&str>) -> Auth {
        Auth {
            verifier: secret.map(|s| Arc::new(Verifier::new(s))),
        }
    }

    pub fn enabled(&self) -> bool {
        self.verifier.is_some()
    }

    /// The claims of a valid token (`Ok(None)` when security is off). For routes that need a
    /// valid token of any access (`/`, `/openapi.json`).
    pub fn authenticate(&self, authorization: Option<&str>) -> Result<Option<Claims>, ApiError> {
        let Some(verifier) = &self.verifier else {
            return Ok(None);
        };
        let token = bearer_token(authorization)?;
        verifier
            .verify(token)
            .map(Some)
            .map_err(|e| ApiError::Unauthorized(e.to_string()))
    }

    /// `authorization`: the raw `Authorization` header / gRPC metadata value ("Bearer <jwt>").
    /// `Ok(None)`: allowed, no restriction. `Ok(Some(filter))`: allowed, rows must also pass
    /// `filter` (parsed against `endpoint.fields`). Err: [`ApiError::Unauthorized`] (missing,
    /// malformed, bad signature, expired: 401, the message names which) or
    /// [`ApiError::Forbidden`] (the token does not grant this endpoint, or its filter is invalid
    /// for the endpoint: 403).
    pub fn authorize(
        &self,
        authorization: Option<&str>,
        endpoint: &EndpointDecl,
    ) -> Result<Option<Filter>, ApiError> {
        let Some(claims) = self.authenticate(authorization)? else {
            return Ok(None);
        };
        let grants = match &claims.access {
            Access::All => return Ok(None),
            Access::Custom(grants) => grants,
        };
        let Some(grant) = grants.get(endpoint.name) else {
            let granted: Vec<&str> = grants.keys().map(String::as_str).collect();
            let granted = if granted.is_empty() {
                "none".to_string()
            } else {
                granted.join(", ")
            };
            return Err(ApiError::Forbidden(format!(
                "the token does not grant access to endpoint `{}` (it grants: {granted})",
                endpoint.name
            )));
        };
        let Some(filter) = &grant.filter else {
            return Ok(None);
        };
        Filter::parse(filter, endpoint.fields)
            .map(Some)
            .map_err(|e| {
                ApiError::Forbidden(format!(
                    "the token's filter for endpoint `{}` does not apply to it: {e}",
                    endpoint.name
                ))
            })
    }
}

/// The token of `Bearer <token>` (the scheme is case-insensitive, RFC 7235).
fn bearer_token(authorization: Option<&str>) -> Result<&str, ApiError> {
    let value = authorization.map(str::trim).unwrap_or_default();
    if value.is_empty() {
        return Err(ApiError::Unauthorized(
            "missing token: this API requires `Authorization: Bearer <token>` (tokens are issued by `dozerc token`)".to_string(),
        ));
    }
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthorized(
            "malformed Authorization: expected `Bearer <token>`".to_string(),
        ));
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::Unauthorized(
            "malformed Authorization: `Bearer` without a token".to_string(),
        ));
    }
    Ok(token)
}

/// Where the running API's secret came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretOrigin {
    /// [`SECRET_ENV`].
    Environment,
    /// `api.api_security` of the config, compiled in.
    Config,
}

/// The secret the API runs with: [`SECRET_ENV`] (`env`) when set, else the config's
/// (`compiled`), else none (security off). A set but empty or short variable is an error rather
/// than a silent fallback: whoever set it meant to secure the API.
pub fn secret_from(
    compiled: Option<&str>,
    env: Option<String>,
) -> Result<Option<(String, SecretOrigin)>, String> {
    match env {
        Some(secret) => {
            check_secret(&secret).map_err(|e| format!("{SECRET_ENV}: {e}"))?;
            Ok(Some((secret, SecretOrigin::Environment)))
        }
        None => Ok(compiled.map(|s| (s.to_string(), SecretOrigin::Config))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::DECL;
    use super::super::CmpOp;
    use super::*;
    use crate::types::Value;
    use serde_json::json;
    use std::collections::BTreeMap;
    use std::time::Duration;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    fn custom(grants: &[(&str, Option<serde_json::Value>)]) -> Access {
        Access::Custom(
            grants
                .iter()
                .map(|(name, filter)| {
                    let filter = filter.clone();
                    (name.to_string(), EndpointAccess { filter })
                })
                .collect(),
        )
    }

    fn bearer(access: &Access) -> String {
        let token = issue_token(SECRET, access, Duration::from_secs(60)).unwrap();
        format!("Bearer {token}")
    }

    fn unauthorized(result: Result<Option<Filter>, ApiError>) -> String {
        match result {
            Err(ApiError::Unauthorized(message)) => message,
            other => panic!("expected a 401, got {other:?}"),
        }
    }

    fn forbidden(result: Result<Option<Filter>, ApiError>) -> String {
        match result {
            Err(ApiError::Forbidden(message)) => message,
            other => panic!("expected a 403, got {other:?}"),
        }
    }

    #[test]
    fn off_allows_everything() {
        let auth = Auth::new(None);
        assert!(!auth.enabled());
        assert_eq!(auth.authorize(None, &DECL).unwrap(), None);
        assert_eq!(auth.authorize(Some("Bearer junk"), &DECL).unwrap(), None);
        assert!(auth.authenticate(None).unwrap().is_none());
    }

    #[test]
    fn all_access_allows_every_row() {
        let auth = Auth::new(Some(SECRET));
        assert!(auth.enabled());
        let header = bearer(&Access::All);
        assert_eq!(auth.authorize(Some(&header), &DECL).unwrap(), None);
        // The scheme is case-insensitive.
        let lower = header.replacen("Bearer", "bearer", 1);
        assert_eq!(auth.authorize(Some(&lower), &DECL).unwrap(), None);
    }

    #[test]
    fn custom_access_grants_named_endpoints_with_their_filters() {
        let auth = Auth::new(Some(SECRET));
        let header = bearer(&custom(&[("sales", None)]));
        assert_eq!(auth.authorize(Some(&header), &DECL).unwrap(), None);

        let header = bearer(&custom(&[
            ("sales", Some(json!({"Country": "UK"}))),
            ("other", None),
        ]));
        let filter = auth.authorize(Some(&header), &DECL).unwrap();
        assert_eq!(
            filter,
            Some(Filter::Compare {
                field: 0,
                op: CmpOp::Eq,
                value: Value::String("UK".into()),
            })
        );

        let header = bearer(&custom(&[("other", None), ("more", None)]));
        assert_eq!(
            forbidden(auth.authorize(Some(&header), &DECL)),
            "the token does not grant access to endpoint `sales` (it grants: more, other)"
        );
        let header = bearer(&Access::Custom(BTreeMap::new()));
        assert_eq!(
            forbidden(auth.authorize(Some(&header), &DECL)),
            "the token does not grant access to endpoint `sales` (it grants: none)"
        );
        let header = bearer(&custom(&[("sales", Some(json!({"Quantity": 1})))]));
        assert_eq!(
            forbidden(auth.authorize(Some(&header), &DECL)),
            "the token's filter for endpoint `sales` does not apply to it: unknown field `Quantity` in $filter; fields are: Country, Total, n"
        );
    }

    /// Every way a token can be wrong, and the message naming it.
    #[test]
    fn bad_tokens_are_unauthorized_with_the_reason() {
        let auth = Auth::new(Some(SECRET));
        let valid = issue_token(SECRET, &Access::All, Duration::from_secs(60)).unwrap();
        let other_secret = "another secret, also 32 bytes long";
        let forged = issue_token(other_secret, &Access::All, Duration::from_secs(60)).unwrap();
        let expired = sign(
            SECRET,
            &Claims {
                exp: 1_000_000,
                iat: None,
                sub: Some("old".into()),
                access: Access::All,
            },
        )
        .unwrap();
        // A token whose payload is someone else's claims shape, correctly signed.
        let alien = {
            install_test_provider();
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &json!({"exp": u64::MAX / 2, "access": "Everything"}),
                &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
            )
            .unwrap()
        };
        let cases: [(Option<String>, &str); 9] = [
            (
                None,
                "missing token: this API requires `Authorization: Bearer <token>`",
            ),
            (Some(String::new()), "missing token"),
            (
                Some(format!("Basic {valid}")),
                "malformed Authorization: expected `Bearer <token>`",
            ),
            (
                Some("Bearer".into()),
                "malformed Authorization: `Bearer` without a token",
            ),
            (
                Some("Bearer   ".into()),
                "malformed Authorization: `Bearer` without a token",
            ),
            (Some("Bearer abc.def".into()), "malformed token: "),
            (Some(format!("Bearer {forged}")), "invalid token signature"),
            (Some(format!("Bearer {expired}")), "expired token"),
            (
                Some(format!("Bearer {alien}")),
                "invalid token claims: unknown variant `Everything`",
            ),
        ];
        for (header, wanted) in cases {
            let message = unauthorized(auth.authorize(header.as_deref(), &DECL));
            assert!(message.starts_with(wanted), "{header:?}: {message}");
            assert!(!message.contains(SECRET), "{message}");
        }
    }

    fn install_test_provider() {
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    }

    #[test]
    fn tokens_round_trip_their_claims() {
        let access = custom(&[("sales", Some(json!({"n": {"$gt": 1}}))), ("x", None)]);
        let token = issue_token(SECRET, &access, Duration::from_secs(3600)).unwrap();
        let claims = Verifier::new(SECRET).verify(&token).unwrap();
        assert_eq!(claims.access, access);
        let iat = claims.iat.unwrap();
        assert_eq!(claims.exp, iat + 3600);
        let json = serde_json::to_value(&claims).unwrap();
        assert_eq!(
            json["access"],
            json!({"Custom": {"sales": {"filter": {"n": {"$gt": 1}}}, "x": {}}})
        );
        let all = serde_json::to_value(Claims {
            access: Access::All,
            ..claims
        })
        .unwrap();
        assert_eq!(all["access"], json!("All"));
    }

    #[test]
    fn secrets_must_be_long_enough() {
        assert!(matches!(
            issue_token("short", &Access::All, Duration::from_secs(1)),
            Err(AuthError::ShortSecret(5))
        ));
        assert!(matches!(
            issue_token("", &Access::All, Duration::from_secs(1)),
            Err(AuthError::EmptySecret)
        ));
        assert!(matches!(
            issue_token(SECRET, &Access::All, Duration::from_secs(u64::MAX)),
            Err(AuthError::TtlTooLong)
        ));
    }

    #[test]
    fn the_environment_overrides_the_config() {
        assert_eq!(secret_from(None, None).unwrap(), None);
        assert_eq!(
            secret_from(Some(SECRET), None).unwrap(),
            Some((SECRET.to_string(), SecretOrigin::Config))
        );
        let env = "z".repeat(40);
        assert_eq!(
            secret_from(Some(SECRET), Some(env.clone())).unwrap(),
            Some((env, SecretOrigin::Environment))
        );
        assert_eq!(
            secret_from(Some(SECRET), Some(String::new())).unwrap_err(),
            "DOZER_JWT_SECRET: the secret is empty"
        );
        assert_eq!(
            secret_from(None, Some("abc".into())).unwrap_err(),
            "DOZER_JWT_SECRET: the secret is 3 bytes long; HS256 needs at least 32 (RFC 7518 §3.2)"
        );
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let shown = format!("{:?}", Auth::new(Some(SECRET)));
        assert_eq!(shown, "Auth { enabled: true }");
    }
}
