//! The router's HTTPS end to end, with a CA made in the test: HTTP/2 over TLS (ALPN), the
//! certificate picked by SNI (a domain's own, else the default wildcard), certificates read
//! again on SIGHUP, and HTTPS-only apps redirected from plain HTTP.

use std::time::Duration;

use anyhow::Context;
use paas_tests::apps;
use paas_tests::router::{client, routed, url};
use paas_tests::steps::deployed_with;
use paas_tests::tls::TestCa;
use paas_tests::{TestApp, TestDb, eventually};
use serde_json::{Value, json};

use crate::on_both_databases;

const WAIT: Duration = Duration::from_secs(30);

on_both_databases!(https_with_sni_and_https_only_apps);

const HTTPS_ONLY: &str = "query($id: ID!) { application(id: $id) { httpsOnly } }";
const UPDATE: &str = "mutation($id: ID!, $input: UpdateApplicationInput!) {
  updateApplication(id: $id, input: $input) { httpsOnly } }";

async fn https_with_sni_and_https_only_apps(db: TestDb) -> anyhow::Result<()> {
    let ca = TestCa::new()?;
    let dir = tempfile::tempdir()?;
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs)?;
    let wildcard = ca.leaf(&["*.paas.test"])?;
    wildcard.write(dir.path(), "default")?;
    let own = ca.leaf(&["secure.paas.test"])?;
    own.write(&certs, "secure.paas.test")?;
    let (cert, key) = (
        dir.path().join("default.crt").display().to_string(),
        dir.path().join("default.key").display().to_string(),
    );
    let cert_dir = certs.display().to_string();
    let app = TestApp::spawn(
        db,
        &[
            "--domain",
            "paas.test",
            "--router-tls-listen",
            "127.0.0.1:0",
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-cert-dir",
            &cert_dir,
        ],
    )
    .await?;
    let alice = app.user("alice").await?;
    let (_repo, id) = deployed_with(
        &alice,
        "secure",
        &[("app.py", &apps::inspector())],
        json!({ "httpsOnly": true }),
    )
    .await?;
    let (router, tls) = (
        app.router.context("no router")?,
        app.router_tls.context("no HTTPS router")?,
    );
    routed(router, "secure.paas.test").await?;
    let names = ["secure.paas.test", "other.paas.test", "late.paas.test"];
    let https = client(&names, tls, Some(ca.pem()))?;
    let served = |res: &reqwest::Response| {
        res.extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .map(<[u8]>::to_vec)
    };

    // HTTPS over HTTP/2 (ALPN), with the domain's own certificate (SNI).
    let res = https
        .get(format!("https://secure.paas.test:{}/headers", tls.port()))
        .send()
        .await?;
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(
        served(&res),
        Some(own.der.clone()),
        "not the domain's certificate"
    );
    let seen: Value = res.json().await?;
    assert_eq!(seen["headers"]["x-forwarded-proto"], json!(["https"]));
    // Another name gets the default (wildcard) certificate.
    let res = https
        .get(format!("https://other.paas.test:{}/", tls.port()))
        .send()
        .await?;
    assert_eq!(res.status(), 404);
    assert_eq!(served(&res), Some(wildcard.der.clone()));

    // Plain HTTP to an HTTPS-only app: 308 to the HTTPS URL.
    assert_eq!(
        alice.data(HTTPS_ONLY, json!({ "id": id })).await?["application"]["httpsOnly"],
        true
    );
    let http = client(&["secure.paas.test"], router, None)?;
    let res = http
        .get(url("secure.paas.test", router, "/headers?x=1"))
        .send()
        .await?;
    assert_eq!(res.status(), 308);
    assert_eq!(
        res.headers()["location"],
        format!("https://secure.paas.test:{}/headers?x=1", tls.port()).as_str()
    );
    // Turned off, plain HTTP is served again.
    let updated = alice
        .data(UPDATE, json!({ "id": id, "input": { "httpsOnly": false } }))
        .await?;
    assert_eq!(updated["updateApplication"]["httpsOnly"], false);
    eventually(WAIT, || async {
        let res = http
            .get(url("secure.paas.test", router, "/"))
            .send()
            .await?;
        Ok((res.status() == 200).then_some(()))
    })
    .await?;

    // A certificate added to the directory is served after SIGHUP.
    let late = ca.leaf(&["late.paas.test"])?;
    late.write(&certs, "late.paas.test")?;
    nix::sys::signal::raise(nix::sys::signal::Signal::SIGHUP)?;
    eventually(WAIT, || async {
        let res = https
            .get(format!("https://late.paas.test:{}/", tls.port()))
            .send()
            .await?;
        Ok((served(&res) == Some(late.der.clone())).then_some(()))
    })
    .await?;
    Ok(())
}
