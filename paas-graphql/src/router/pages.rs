//! The answers the router gives itself: short plain-text pages (status line, one sentence), the
//! 503 of an app that does not run, the redirect of an HTTPS-only app.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};
use paas_core::model::Domain;
use paas_core::status::AppStatus;

use super::body::ProxyBody;

pub fn empty() -> ProxyBody {
    Full::new(Bytes::new())
        .map_err(|never| match never {})
        .boxed()
}

/// A short page the router answers itself.
pub fn page(status: StatusCode, text: &str) -> Response<ProxyBody> {
    let body = format!(
        "{} {}\n{text}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let mut res = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed(),
    );
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    res
}

/// 503 for an app that does not run now, with `Retry-After` while it is coming up. The reason
/// stays out: it may quote the app's output, and anyone may ask the router.
pub fn down(name: &str, status: AppStatus) -> Response<ProxyBody> {
    let coming = matches!(
        status,
        AppStatus::Pending | AppStatus::Building | AppStatus::Starting
    );
    let text = format!("application {name} is {}", status.as_str());
    let mut res = page(StatusCode::SERVICE_UNAVAILABLE, &text);
    if coming {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
    }
    if let Ok(v) = HeaderValue::from_str(status.as_str()) {
        res.headers_mut().insert("x-paas-app-status", v);
    }
    res
}

/// 308 to the same path over HTTPS on `port` (a permanent redirect that keeps the method and
/// the body).
pub fn to_https(host: &Domain, port: u16, path: &str) -> Response<ProxyBody> {
    let port = if port == 443 {
        String::new()
    } else {
        format!(":{port}")
    };
    let location = format!("https://{host}{port}{path}");
    let mut res = page(
        StatusCode::PERMANENT_REDIRECT,
        &format!("this application is served over HTTPS: {location}"),
    );
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}
