//! The credentials a request presents, read strictly: every
//! `Authorization` and `X-API-Key` value counts, so a bad one cannot hide
//! behind a good one. An `Authorization` that is not a readable Bearer
//! token, or two different values of one kind, is refused (401) before any
//! is checked.

use http::StatusCode;
use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};

use super::error::ApiError;
use crate::auth::Credentials;

/// The `X-API-Key` header.
const API_KEY: &str = "x-api-key";

/// A request's credentials, at most one of each kind.
#[derive(Debug, Default)]
pub(super) struct Presented {
    bearer: Option<String>,
    api_key: Option<String>,
}

/// 401 `unauthorized` for credentials that are not valid.
pub(super) fn invalid() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "the credentials are not valid",
    )
}

impl Presented {
    /// Reads every `Authorization` and `X-API-Key` header.
    ///
    /// # Errors
    /// 401 for an unreadable value, an `Authorization` that is not
    /// `Bearer <token>`, or two different values of one kind.
    pub(super) fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let mut presented = Self::default();
        for value in headers.get_all(AUTHORIZATION) {
            let token = text(value).and_then(bearer).ok_or_else(invalid)?;
            presented.add_bearer(token)?;
        }
        for value in headers.get_all(API_KEY) {
            presented.add_api_key(text(value).ok_or_else(invalid)?.trim())?;
        }
        Ok(presented)
    }

    /// Adds an access token from elsewhere (a WebSocket query parameter).
    ///
    /// # Errors
    /// 401 when a different token was presented already.
    pub(super) fn add_bearer(&mut self, token: &str) -> Result<(), ApiError> {
        only_one(&mut self.bearer, token)
    }

    /// Adds an API key from elsewhere (a WebSocket query parameter).
    ///
    /// # Errors
    /// 401 when a different key was presented already.
    pub(super) fn add_api_key(&mut self, key: &str) -> Result<(), ApiError> {
        only_one(&mut self.api_key, key)
    }

    /// The credentials to check.
    pub(super) fn credentials(&self) -> Credentials<'_> {
        Credentials {
            bearer: self.bearer.as_deref(),
            api_key: self.api_key.as_deref(),
        }
    }
}

fn only_one(slot: &mut Option<String>, value: &str) -> Result<(), ApiError> {
    match slot {
        Some(held) if held != value => Err(invalid()),
        Some(_) => Ok(()),
        None => {
            *slot = Some(value.to_owned());
            Ok(())
        }
    }
}

fn text(value: &HeaderValue) -> Option<&str> {
    value.to_str().ok()
}

/// The token of an `Authorization: Bearer …` header.
pub(super) fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use http::header::{AUTHORIZATION, HeaderMap, HeaderValue};

    use super::{Presented, bearer};

    #[test]
    fn bearer_tokens_are_parsed() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                http::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_bytes(value).unwrap(),
            );
        }
        h
    }

    #[test]
    fn every_presented_credential_counts() {
        let ok = Presented::from_headers(&headers(&[
            ("authorization", b"Bearer a"),
            ("x-api-key", b" k "),
        ]))
        .unwrap();
        let c = ok.credentials();
        assert_eq!((c.bearer, c.api_key), (Some("a"), Some("k")));
        for bad in [
            headers(&[("authorization", b"Basic dTpw")]),
            headers(&[("authorization", b"Bearer ")]),
            headers(&[("authorization", b"Bearer \xff")]),
            headers(&[
                ("authorization", b"Bearer a"),
                ("authorization", b"Bearer b"),
            ]),
            headers(&[("x-api-key", b"k1"), ("x-api-key", b"k2")]),
        ] {
            let e = Presented::from_headers(&bad).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code),
                (401, "unauthorized"),
                "{bad:?}"
            );
        }
        let mut p =
            Presented::from_headers(&headers(&[(AUTHORIZATION.as_str(), b"Bearer a")])).unwrap();
        assert!(p.add_bearer("a").is_ok() && p.add_bearer("b").is_err());
    }
}
