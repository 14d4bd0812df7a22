//! The one GET both adapters make: the token in the header the host wants, a timeout, a cap on
//! the body, the host's statuses as typed errors, and `Link: rel="next"` kept only when it stays
//! on the API's origin (the token must not go anywhere else).

use chrono::{DateTime, TimeZone, Utc};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use serde::de::DeserializeOwned;

use super::{GitHostError, GitHostsConfig, link};
use crate::error::{Error, Result};
use crate::model::{GitHostKind, Secret};

/// A client of one host's API for one token.
pub(super) struct Api {
    client: reqwest::Client,
    kind: GitHostKind,
    /// The API's base URL, without a trailing slash.
    base: String,
    origin: String,
    max_body: usize,
}

/// A JSON answer and the URL of the next page.
pub(super) struct Answer<T> {
    pub body: T,
    pub next: Option<String>,
}

impl Api {
    /// `auth` is the `Authorization` value, built from the token by the adapter.
    pub fn new(
        kind: GitHostKind,
        base: &str,
        auth: &Secret,
        extra: &[(&'static str, &'static str)],
        limits: &GitHostsConfig,
    ) -> Result<Self> {
        let mut headers = HeaderMap::new();
        let mut value =
            HeaderValue::from_str(auth.expose()).map_err(|_| GitHostError::Unauthorized(kind))?;
        value.set_sensitive(true);
        headers.insert(reqwest::header::AUTHORIZATION, value);
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        for (name, value) in extra {
            headers.insert(*name, HeaderValue::from_static(value));
        }
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .user_agent(concat!("paas/", env!("CARGO_PKG_VERSION")))
            .timeout(limits.timeout)
            .connect_timeout(limits.timeout)
            // A redirect could carry the token elsewhere; hosts answer the API without one.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| unavailable(kind, format!("HTTP client: {e}")))?;
        let origin = Url::parse(base)
            .map_err(|e| GitHostError::BadBaseUrl(e.to_string()))?
            .origin()
            .ascii_serialization();
        Ok(Self {
            client,
            kind,
            base: base.to_owned(),
            origin,
            max_body: limits.max_body,
        })
    }

    /// `base` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends the GET, again after a short pause when the connection could not be made (nothing
    /// reached the host, so a second try is always safe): a refused or reset connect is often
    /// a host's listener being busy for an instant, and a user's listing should not fail on it.
    async fn send(&self, url: &str) -> reqwest::Result<reqwest::Response> {
        const CONNECT_TRIES: u32 = 3;
        let mut attempt = 1;
        loop {
            match self.client.get(url).send().await {
                Err(e) if e.is_connect() && !e.is_timeout() && attempt < CONNECT_TRIES => {
                    tracing::warn!(host = %self.kind, attempt, error = ?e, "cannot connect, trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt)))
                        .await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// GETs `url` (one of [`Api::url`] or a `next` this API handed out) as JSON.
    #[tracing::instrument(skip_all, fields(host = %self.kind), err)]
    pub async fn get<T: DeserializeOwned>(&self, url: &str) -> Result<Answer<T>> {
        let kind = self.kind;
        let response = self.send(url).await.map_err(|e| {
            let what = if e.is_timeout() {
                "it did not answer in time".to_owned()
            } else if e.is_connect() {
                "cannot connect".to_owned()
            } else {
                "the request failed".to_owned()
            };
            unavailable(kind, what)
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        if !status.is_success() {
            return Err(refusal(kind, status, &headers, Utc::now()));
        }
        let next = headers
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(|h| link::find(h, "next"));
        let next = match next {
            Some(n) if self.same_origin(&n) => Some(n),
            Some(_) => {
                return Err(unavailable(
                    kind,
                    "its next page is on another origin".into(),
                ));
            }
            None => None,
        };
        let mut response = response;
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|_| unavailable(kind, "the answer was cut off".into()))?
        {
            if body.len() + chunk.len() > self.max_body {
                return Err(unavailable(
                    kind,
                    format!("its answer is larger than {} bytes", self.max_body),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        let body = serde_json::from_slice(&body)
            .map_err(|e| unavailable(kind, format!("unexpected answer: {e}")))?;
        Ok(Answer { body, next })
    }

    fn same_origin(&self, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| u.origin().ascii_serialization() == self.origin)
    }
}

pub(super) fn unavailable(kind: GitHostKind, message: String) -> Error {
    GitHostError::Unavailable { kind, message }.into()
}

/// A non-success status as an error. Rate limits as GitHub documents them: 403 or 429 with
/// `x-ratelimit-remaining: 0` (reset at `x-ratelimit-reset`, epoch seconds), or with
/// `retry-after` (seconds); Gitea answers 429 with `retry-after`.
pub(super) fn refusal(
    kind: GitHostKind,
    status: StatusCode,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Error {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let spent = header("x-ratelimit-remaining") == Some("0");
    let reset = header("x-ratelimit-reset")
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| Utc.timestamp_opt(s, 0).single());
    let retry_after = header("retry-after")
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|s| (0..=86_400).contains(s))
        .map(|s| now + chrono::Duration::seconds(s));
    match status {
        StatusCode::UNAUTHORIZED => GitHostError::Unauthorized(kind).into(),
        StatusCode::FORBIDDEN | StatusCode::TOO_MANY_REQUESTS
            if spent || retry_after.is_some() || status == StatusCode::TOO_MANY_REQUESTS =>
        {
            GitHostError::RateLimited {
                kind,
                reset_at: retry_after.or(if spent { reset } else { None }),
            }
            .into()
        }
        StatusCode::FORBIDDEN => GitHostError::Unauthorized(kind).into(),
        StatusCode::NOT_FOUND => Error::NotFound("repository"),
        other => unavailable(kind, format!("it answered {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn statuses_become_codes() {
        let now = Utc
            .timestamp_opt(1_700_000_000, 0)
            .single()
            .expect("a time");
        let gh = GitHostKind::GitHub;
        let cases = [
            (401, headers(&[]), ErrorCode::GitHostUnauthorized),
            (403, headers(&[]), ErrorCode::GitHostUnauthorized),
            (
                403,
                headers(&[
                    ("x-ratelimit-remaining", "0"),
                    ("x-ratelimit-reset", "1700000600"),
                ]),
                ErrorCode::GitHostRateLimited,
            ),
            (
                429,
                headers(&[("retry-after", "30")]),
                ErrorCode::GitHostRateLimited,
            ),
            (404, headers(&[]), ErrorCode::NotFound),
            (502, headers(&[]), ErrorCode::GitHostUnavailable),
        ];
        for (status, h, code) in cases {
            let status = StatusCode::from_u16(status).expect("a status");
            assert_eq!(refusal(gh, status, &h, now).code(), code, "{status}");
        }
    }

    #[test]
    fn rate_limits_say_when_they_reset() {
        let now = Utc
            .timestamp_opt(1_700_000_000, 0)
            .single()
            .expect("a time");
        let spent = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1700000600"),
        ]);
        let e = refusal(GitHostKind::GitHub, StatusCode::FORBIDDEN, &spent, now);
        assert_eq!(
            e.to_string(),
            "GitHub rate limit reached; it resets at 2023-11-14T22:23:20+00:00"
        );
        let later = headers(&[("retry-after", "60")]);
        let e = refusal(
            GitHostKind::Gitea,
            StatusCode::TOO_MANY_REQUESTS,
            &later,
            now,
        );
        assert_eq!(
            e.to_string(),
            "Gitea rate limit reached; it resets at 2023-11-14T22:14:20+00:00"
        );
    }
}

#[cfg(test)]
mod connect_tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncWriteExt;

    /// A host whose listener comes up a moment after the first try is answered, not refused.
    #[tokio::test]
    async fn a_refused_connect_is_tried_again() {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let addr = probe.local_addr().expect("an address");
        drop(probe);
        let base = format!("http://{addr}");
        let api = Api::new(
            GitHostKind::Gitea,
            &base,
            &Secret::new("token t".to_owned()),
            &[],
            &GitHostsConfig::default(),
        )
        .expect("a client");
        let host = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            let body = "[1,2]";
            let answer = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(answer.as_bytes()).await.expect("write");
        });
        let got: Answer<Vec<u32>> = api.get(&api.url("/x")).await.expect("answered");
        assert_eq!(got.body, vec![1, 2]);
        host.await.expect("the host ran");
    }
}
