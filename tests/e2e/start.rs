//! A clear start: `paas serve` and `paas worker` check what they depend on before they say they
//! are ready. Each missing dependency ends the process within seconds, non-zero, with one line
//! naming it (and no password), never a panic or a backtrace.

use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use paas_tests::server::{open_temp_dir, paas_bin};

/// What a start that must fail left behind.
struct Refused {
    line: String,
    stdout: String,
}

/// A port nothing listens on (bound, then closed).
fn closed_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Runs `paas <args>` with only `env` set, expecting it to stop by itself within 10 s.
async fn refused(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Refused> {
    let dir = open_temp_dir()?;
    let data = dir.path().join("data");
    let started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(paas_bin()?)
            .args(args)
            .arg("--data-dir")
            .arg(&data)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "off")
            .env("RUST_BACKTRACE", "1")
            .envs(env.iter().copied())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .with_context(|| format!("paas {args:?} did not stop within 10 s"))??;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(!out.status.success(), "paas {args:?} succeeded: {stdout}");
    ensure!(
        started.elapsed() < Duration::from_secs(10),
        "too slow: {:?}",
        started.elapsed()
    );
    ensure!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    ensure!(
        !stdout.contains("listening"),
        "it said it was ready: {stdout}"
    );
    let lines: Vec<&str> = stderr.lines().collect();
    ensure!(lines.len() == 1, "not one line: {stderr}");
    Ok(Refused {
        line: lines[0].to_owned(),
        stdout,
    })
}

fn serve() -> Vec<&'static str> {
    vec![
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--router-listen",
        "127.0.0.1:0",
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_stops_the_start_naming_it_without_its_password()
-> anyhow::Result<()> {
    let port = closed_port()?;
    let url = format!("postgres://paas:hunter2@127.0.0.1:{port}/paas");
    let redis = paas_tests::redis::url();
    for (args, env) in [
        (serve(), vec![("DATABASE_URL", url.as_str())]),
        (
            vec!["worker"],
            vec![
                ("DATABASE_URL", url.as_str()),
                ("REDIS_URL", redis.as_str()),
            ],
        ),
    ] {
        let r = refused(&args, &env).await?;
        ensure!(
            r.line
                == format!(
                    "paas: cannot reach the database at postgres://paas:***@127.0.0.1:{port}/paas: \
                     Connection refused (os error 111)"
                ),
            "{}",
            r.line
        );
        ensure!(!r.line.contains("hunter2") && !r.stdout.contains("hunter2"));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_on_a_closed_port_stops_the_start_at_once() -> anyhow::Result<()> {
    let port = closed_port()?;
    let url = format!("redis://:hunter2@127.0.0.1:{port}/");
    for args in [serve(), vec!["worker"]] {
        let r = refused(&args, &[("REDIS_URL", url.as_str())]).await?;
        ensure!(
            r.line
                == format!(
                    "paas: cannot reach Redis at redis://:***@127.0.0.1:{port}/: Connection \
                     refused (os error 111)"
                ),
            "{}",
            r.line
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_podman_socket_stops_serve_and_worker() -> anyhow::Result<()> {
    let redis = paas_tests::redis::url();
    for args in [serve(), vec!["worker"]] {
        let mut args = args;
        args.extend(["--runtime", "podman"]);
        let r = refused(
            &args,
            &[
                ("PODMAN_SOCKET", "unix:///nonexistent/podman.sock"),
                ("REDIS_URL", redis.as_str()),
            ],
        )
        .await?;
        ensure!(r.line.starts_with("paas: "), "{}", r.line);
        ensure!(r.line.contains("/nonexistent/podman.sock"), "{}", r.line);
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nomad_on_a_closed_port_stops_the_start() -> anyhow::Result<()> {
    let port = closed_port()?;
    let addr = format!("http://127.0.0.1:{port}");
    let mut args = serve();
    args.extend(["--runtime", "nomad"]);
    let r = refused(&args, &[("NOMAD_ADDR", addr.as_str())]).await?;
    ensure!(
        r.line == format!("paas: cannot reach Nomad at {addr}: Connection refused (os error 111)"),
        "{}",
        r.line
    );
    Ok(())
}

/// The address is checked first: taken, it is what the line says even when the database is
/// missing too (the slower checks are not waited for).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_listen_address_stops_the_start_before_the_other_checks() -> anyhow::Result<()> {
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = taken.local_addr()?.to_string();
    let db = format!("postgres://paas:pw@127.0.0.1:{}/paas", closed_port()?);
    let r = refused(
        &["serve", "--listen", &addr, "--router-listen", "127.0.0.1:0"],
        &[("DATABASE_URL", db.as_str())],
    )
    .await?;
    ensure!(
        r.line == format!("paas: could not listen on {addr}: Address already in use (os error 98)"),
        "{}",
        r.line
    );
    drop(taken);
    Ok(())
}

/// The stand-in answers the leader query as Nomad does, so a reachable Nomad passes the check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reachable_nomad_passes_the_check() -> anyhow::Result<()> {
    let nomad = paas_tests::nomad::FakeNomad::start(Some("t0ken"), Some("apps")).await?;
    let server = paas_tests::TestServer::spawn_with_env(
        paas_tests::TestDb::Sqlite,
        &["--runtime", "nomad"],
        &[
            ("NOMAD_ADDR", nomad.address.as_str()),
            ("NOMAD_TOKEN", "t0ken"),
            ("NOMAD_NAMESPACE", "apps"),
        ],
    )
    .await?;
    let leader = nomad
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.path == "/v1/status/leader");
    ensure!(leader, "no leader query: {:?}", nomad.problems());
    ensure!(nomad.problems().is_empty(), "{:?}", nomad.problems());
    drop(server);
    Ok(())
}
