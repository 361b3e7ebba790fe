//! Bearer-token authentication for the HTTP transport. Tokens are configured only as SHA-256
//! hashes mapped to a principal and groups; presented tokens are hashed and compared in
//! constant time.

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::config::TokenSettings;
use crate::principal::Principal;

/// Why a request was not authenticated (each maps to a 401).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("missing Authorization: Bearer token")]
    Missing,
    #[error("Authorization header is not a Bearer token")]
    Malformed,
    #[error("invalid bearer token")]
    Invalid,
}

/// Checks `Authorization` header values against the configured token hashes.
#[derive(Debug, Clone)]
pub struct TokenVerifier {
    tokens: Vec<TokenSettings>,
}

impl TokenVerifier {
    pub fn new(tokens: Vec<TokenSettings>) -> Self {
        Self { tokens }
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    pub fn verify(&self, authorization: Option<&str>) -> Result<Principal, AuthFailure> {
        let header = authorization.ok_or(AuthFailure::Missing)?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or(AuthFailure::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthFailure::Malformed);
        }
        let presented = hash_token(token.trim());
        // Check every entry without early exit so timing says nothing about which matched.
        let mut found = None;
        for entry in &self.tokens {
            if constant_time_eq(&entry.sha256, &presented) {
                found = Some(entry);
            }
        }
        found
            .map(|entry| Principal::human(entry.principal.clone(), entry.groups.clone()))
            .ok_or(AuthFailure::Invalid)
    }
}

pub fn hash_token(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// A fresh random token (`stw_` + 64 hex chars).
pub fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("stw_{}", hex::encode(bytes))
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(vec![TokenSettings {
            principal: "alice".into(),
            groups: vec!["data-oncall".into()],
            sha256: hash_token("s3cret"),
        }])
    }

    #[test]
    fn verifies_bearer_tokens() {
        let v = verifier();
        assert_eq!(
            v.verify(Some("Bearer s3cret")),
            Ok(Principal::human("alice", vec!["data-oncall".into()]))
        );
        assert_eq!(
            v.verify(Some("bearer  s3cret ")).map(|p| p.id),
            Ok("alice".into())
        );
        assert_eq!(v.verify(None), Err(AuthFailure::Missing));
        assert_eq!(
            v.verify(Some("Basic czNjcmV0")),
            Err(AuthFailure::Malformed)
        );
        assert_eq!(v.verify(Some("s3cret")), Err(AuthFailure::Malformed));
        assert_eq!(v.verify(Some("Bearer wrong")), Err(AuthFailure::Invalid));
    }

    #[test]
    fn new_tokens_are_random_and_hashable() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 68);
        assert!(a.starts_with("stw_"));
    }
}
