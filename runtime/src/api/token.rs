//! The API's bearer tokens: HS256 JWTs, their claims, how they are signed and verified.
//!
//! This file is also compiled into `dozerc` (by `#[path]`, for `dozerc token`), so that the
//! tokens the command issues are exactly those the runtime accepts: it uses only external
//! crates (jsonwebtoken, serde, serde_json, thiserror), never `crate::`.
//!
//! Claims (Dozer's `Access` shape):
//!
//! ```json
//! {"exp": 1767225600, "iat": 1767139200, "sub": "reporting",
//!  "access": {"Custom": {"orders": {"filter": {"Country": "UK"}}, "products": {}}}}
//! ```
//!
//! `exp` (seconds since the Unix epoch) is required; `iat` and `sub` are optional and only
//! informative. `access` is `"All"` (every endpoint, every row) or `{"Custom": {...}}`: the
//! endpoints the token may read, by `endpoints[].name`, each with an optional `filter` in the
//! `$filter` language that every row it reads must also pass. Unknown keys in `access` are
//! refused rather than ignored, so a token meant to restrict more than this server understands
//! (Dozer's column lists, say) grants nothing instead of everything.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The environment variable that holds the secret at run time (and for `dozerc token`),
/// overriding `api.api_security` of the config, so the secret need not be compiled in.
pub const SECRET_ENV: &str = "DOZER_JWT_SECRET";

/// The shortest secret accepted: RFC 7518 §3.2 requires an HS256 key of at least 256 bits.
pub const MIN_SECRET_BYTES: usize = 32;

/// What a token lets its holder read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Access {
    /// Every endpoint, every row (`"All"`).
    All,
    /// Only these endpoints, by name (`{"Custom": {"name": {"filter": ...}}}`).
    Custom(BTreeMap<String, EndpointAccess>),
}

/// What a token lets its holder read of one endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointAccess {
    /// A `$filter` every row read must pass (checked against the endpoint's columns when the
    /// token is used); `None`: every row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<serde_json::Value>,
}

/// The claims of a token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Expiry, in seconds since the Unix epoch.
    pub exp: u64,
    /// When it was issued, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// Whom it was issued to (informative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    pub access: Access,
}

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the secret is empty")]
    EmptySecret,
    #[error(
        "the secret is {0} bytes long; HS256 needs at least {MIN_SECRET_BYTES} (RFC 7518 §3.2)"
    )]
    ShortSecret(usize),
    #[error("the token lifetime is too long")]
    TtlTooLong,
    #[error("the system clock is before 1970")]
    Clock,
    #[error("cannot sign the token: {0}")]
    Sign(jsonwebtoken::errors::Error),
}

/// Why a token was refused. Each message names the problem (never the secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token: {0}")]
    Malformed(String),
    #[error("invalid token signature: the token was not signed with this API's secret")]
    BadSignature,
    #[error("token signed with {0}; this API accepts HS256 only")]
    WrongAlgorithm(String),
    #[error("expired token: issue a new one (`dozerc token`)")]
    Expired,
    #[error("token not valid yet (`nbf` is in the future)")]
    NotYetValid,
    #[error("invalid token claims: {0}")]
    Claims(String),
}

/// Checks a secret against [`MIN_SECRET_BYTES`].
pub fn check_secret(secret: &str) -> Result<(), AuthError> {
    match secret.len() {
        0 => Err(AuthError::EmptySecret),
        n if n < MIN_SECRET_BYTES => Err(AuthError::ShortSecret(n)),
        _ => Ok(()),
    }
}

/// A token granting `access` for `ttl` from now, signed with `secret`.
pub fn issue_token(secret: &str, access: &Access, ttl: Duration) -> Result<String, AuthError> {
    let now = unix_now().ok_or(AuthError::Clock)?;
    let exp = now
        .checked_add(ttl.as_secs())
        .ok_or(AuthError::TtlTooLong)?;
    let claims = Claims {
        exp,
        iat: Some(now),
        sub: None,
        access: access.clone(),
    };
    sign(secret, &claims)
}

/// Signs `claims` as they are (tests use it for expired tokens).
pub fn sign(secret: &str, claims: &Claims) -> Result<String, AuthError> {
    check_secret(secret)?;
    install_provider();
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map_err(AuthError::Sign)
}

/// A secret ready to verify tokens with.
pub struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    pub fn new(secret: &str) -> Verifier {
        install_provider();
        let mut validation = Validation::new(Algorithm::HS256);
        // Tokens are issued on the server's side (`dozerc token`): no clock skew to allow for,
        // and an expired token must be refused when it expires, not a minute later.
        validation.leeway = 0;
        validation.validate_nbf = true;
        Verifier {
            key: DecodingKey::from_secret(secret.as_bytes()),
            validation,
        }
    }

    /// The claims of `token` if it is well formed, signed with this secret and not expired.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        // The header first: a JSON error after it is the claims' (see `jsonwebtoken::decode`).
        let header = jsonwebtoken::decode_header(token).map_err(|e| malformed(&e))?;
        if header.alg != Algorithm::HS256 {
            return Err(TokenError::WrongAlgorithm(format!("{:?}", header.alg)));
        }
        match jsonwebtoken::decode::<Claims>(token, &self.key, &self.validation) {
            Ok(data) => Ok(data.claims),
            Err(e) => Err(match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidAlgorithm => {
                    TokenError::WrongAlgorithm(format!("{:?}", header.alg))
                }
                ErrorKind::Json(json) => TokenError::Claims(json.to_string()),
                ErrorKind::MissingRequiredClaim(claim) => {
                    TokenError::Claims(format!("missing field `{claim}`"))
                }
                ErrorKind::InvalidClaimFormat(claim) => {
                    TokenError::Claims(format!("`{claim}` has the wrong type"))
                }
                _ => malformed(&e),
            }),
        }
    }
}

fn malformed(e: &jsonwebtoken::errors::Error) -> TokenError {
    TokenError::Malformed(match e.kind() {
        ErrorKind::InvalidToken => "expected three base64url parts separated by `.`".to_string(),
        ErrorKind::Base64(e) => format!("a part is not base64url ({e})"),
        ErrorKind::Json(e) => format!("its header is not a JWT header ({e})"),
        ErrorKind::Utf8(_) => "a part is not UTF-8".to_string(),
        _ => e.to_string(),
    })
}

fn unix_now() -> Option<u64> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// Selects the pure-Rust backend explicitly: jsonwebtoken panics on first use when another
/// crate in the build also enables its aws-lc backend (it can no longer infer which to use).
/// Installing twice is harmless (the first choice stays).
fn install_provider() {
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}
