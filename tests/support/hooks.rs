//! Webhook deliveries as git hosts send them: GitHub's signed headers, and the `POST`.

use paas_core::hooks::sign;
use serde_json::Value;

/// Sends a delivery; answers its status and JSON body (the text, if it is not JSON).
pub async fn deliver(
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> anyhow::Result<(u16, Value)> {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.body(body).send().await?;
    let status = resp.status().as_u16();
    let text = resp.text().await?;
    Ok((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    ))
}

/// GitHub's headers for a delivery of `event` with id `delivery`, `body` signed with `secret`.
pub fn github_headers(
    event: &str,
    secret: &str,
    delivery: &str,
    body: &[u8],
) -> Vec<(&'static str, String)> {
    vec![
        ("X-GitHub-Event", event.into()),
        ("X-GitHub-Delivery", delivery.into()),
        (
            "X-Hub-Signature-256",
            format!("sha256={}", sign(secret, body)),
        ),
    ]
}
