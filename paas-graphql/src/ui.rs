//! The web dashboard: the single-page app built from `paas-graphql/web/` by `scripts/build-ui`
//! into `paas-graphql/ui/` (committed, so the build needs no Node), embedded in the binary. A
//! client of the GraphQL API and its subscriptions like any other; the server only hands out
//! its files:
//!
//! - `GET /ui` and `GET /ui/`: `index.html`;
//! - `GET /ui/assets/{file}`: a built file, cached for a year (its name carries its hash);
//! - any other `GET /ui/{path}`: `index.html`, whose script shows the page of that path
//!   (client-side routes, so a reload or a shared link lands on the same page);
//! - `GET /`: a redirect to `/ui/` (the playground is at `/graphql`).
//!
//! The page is served under the playground's Content-Security-Policy: this origin only, no
//! inline script.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use rust_embed::RustEmbed;

use crate::playground::CSP;

#[derive(RustEmbed)]
#[folder = "ui/"]
struct Files;

/// `GET /`: the dashboard.
pub(crate) async fn root() -> Redirect {
    Redirect::to("/ui/")
}

/// `GET /ui`, `GET /ui/` and every client-side route under it: the page.
pub(crate) async fn page() -> Response {
    let Some(index) = Files::get("index.html") else {
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            "the dashboard was not built into this binary (scripts/build-ui)",
        )
            .into_response();
    };
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            // The page names the hashed files of this binary's build: always asked again.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        index.data,
    )
        .into_response()
}

/// `GET /ui/assets/{file}`: one of the built files.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let Some(found) = Files::get(&format!("assets/{file}")) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut response = found.data.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(&file)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // A new build names its files anew: a file never changes under its name.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

/// The content type of a built file, by its extension.
fn content_type(file: &str) -> &'static str {
    match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("html") => "text/html; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_embedded_files_and_has_no_inline_script() {
        let index = Files::get("index.html").expect("index.html is embedded");
        let html = std::str::from_utf8(&index.data).expect("utf-8");
        let names: Vec<&str> = html
            .split("\"/ui/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(
            names.iter().any(|n| n.ends_with(".js")),
            "no script: {html}"
        );
        for name in names {
            assert!(
                Files::get(name).is_some(),
                "{name} is named but not embedded"
            );
        }
        for tag in html.split("<script").skip(1) {
            assert!(tag.contains(" src="), "an inline script: {html}");
        }
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type("index-abc.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("index-abc.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
