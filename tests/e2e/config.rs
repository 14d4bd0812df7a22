//! `paas config`: the effective settings, each with where it came from (default, the file, a
//! variable, a flag), later layers winning; passwords masked and secrets hidden; unknown names
//! warned about; a bad value stops `config` and `serve` alike with one line naming it.

use std::process::Output;

use anyhow::ensure;
use paas_tests::server::paas_bin;

/// `paas <args>` with only `env` set (plus PATH).
async fn paas(args: &[&str], env: &[(&str, &str)]) -> anyhow::Result<Output> {
    Ok(tokio::process::Command::new(paas_bin()?)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .kill_on_drop(true)
        .output()
        .await?)
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_then_env_then_flags_each_value_with_its_source() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("paas.toml");
    std::fs::write(
        &file,
        "redis_prefix = \"fromfile\"\nlock_wait_secs = 3\nclaim_after_secs = 7\n\
         database_url = \"postgres://paas:filepass@db.example:5432/paas\"\n\
         registry = \"bot:regpass@registry.example:5000\"\n",
    )?;
    let file_s = file.display().to_string();
    let key = "cd".repeat(32);
    let out = paas(
        &[
            "config",
            "--claim-after-secs",
            "9",
            "--nomad-token",
            "flagtoken",
            "--secret-key",
            &key,
        ],
        &[
            ("PAAS_CONFIG", &file_s),
            ("PAAS_LOCK_WAIT_SECS", "4"),
            ("PAAS_CLAIM_AFTER_SECS", "8"),
            ("REDIS_URL", "redis://:envpass@127.0.0.1:6379/"),
            ("PORT", "9123"),
        ],
    )
    .await?;
    let (stdout, stderr) = text(&out);
    ensure!(out.status.success(), "{stderr}");
    for want in [
        format!("# config file: {file_s}"),
        format!("redis_prefix = \"fromfile\"  # file {file_s}"),
        "lock_wait_secs = 4  # env PAAS_LOCK_WAIT_SECS".into(),
        "claim_after_secs = 9  # flag --claim-after-secs".into(),
        "listen = \"127.0.0.1:9123\"  # env PORT".into(),
        format!("database_url = \"postgres://paas:***@db.example:5432/paas\"  # file {file_s}"),
        format!("registry = \"bot:***@registry.example:5000\"  # file {file_s}"),
        "redis_url = \"redis://:***@127.0.0.1:6379/\"  # env REDIS_URL".into(),
        "nomad_token = \"(hidden)\"  # flag --nomad-token".into(),
        "secret_key = \"(hidden)\"  # flag --secret-key".into(),
        "runtime = \"process\"  # default".into(),
        "max_connections = 4096  # default".into(),
    ] {
        ensure!(
            stdout.lines().any(|l| l == want),
            "no line {want:?} in:\n{stdout}"
        );
    }
    for secret in ["filepass", "envpass", "regpass", "flagtoken", key.as_str()] {
        ensure!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{secret} was printed"
        );
    }
    // The output is a config file itself: every key, once.
    let table: toml::Table = stdout.parse()?;
    let known = paas_graphql::config::keys::ordered_keys();
    ensure!(
        table.len() == known.len() && known.iter().all(|k| table.contains_key(k)),
        "{} keys printed, {} known",
        table.len(),
        known.len()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_keys_and_variables_are_reported() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("paas.toml");
    std::fs::write(&file, "redis_prefx = \"x\"\n")?;
    let file_s = file.display().to_string();
    let out = paas(
        &["config", "--config", &file_s],
        &[("PAAS_LOCK_WAIT_SEC", "4")],
    )
    .await?;
    let (_, stderr) = text(&out);
    ensure!(out.status.success(), "{stderr}");
    ensure!(
        stderr.contains(&format!(
            "unknown key `redis_prefx` in {file_s} (did you mean `redis_prefix`?)"
        )),
        "{stderr}"
    );
    ensure!(
        stderr
            .contains("unknown variable PAAS_LOCK_WAIT_SEC (did you mean `PAAS_LOCK_WAIT_SECS`?)"),
        "{stderr}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_value_names_its_key_and_layer() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data").display().to_string();
    for command in [vec!["config"], vec!["serve", "--data-dir", &data]] {
        let out = paas(&command, &[("PAAS_MAX_CONNECTIONS", "lots")]).await?;
        let (stdout, stderr) = text(&out);
        ensure!(!out.status.success(), "{stdout}");
        ensure!(
            stderr.trim()
                == "paas: max_connections (env PAAS_MAX_CONNECTIONS): expected a whole number, \
                    found `lots`",
            "{stderr}"
        );
    }
    // A typed value checked when read: a port range that holds no port.
    let out = paas(&["config", "--publish-ports", "30000-20000"], &[]).await?;
    let (stdout, stderr) = text(&out);
    ensure!(!out.status.success(), "{stdout}");
    ensure!(
        stderr.trim()
            == "paas: publish_ports (flag --publish-ports) = \"30000-20000\": 30000-20000 is \
                empty: the first port is above the last",
        "{stderr}"
    );
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "lock_lease_secs = [\n")?;
    let file_s = file.display().to_string();
    let out = paas(&["config", "--config", &file_s], &[]).await?;
    let (_, stderr) = text(&out);
    ensure!(!out.status.success());
    ensure!(
        stderr.lines().count() == 1
            && stderr.starts_with(&format!("paas: the config file {file_s} is not valid TOML")),
        "{stderr}"
    );
    let out = paas(
        &["config", "--listen", "127.0.0.1:80", "--runtime", "docker"],
        &[],
    )
    .await?;
    let (_, stderr) = text(&out);
    ensure!(
        !out.status.success() && stderr.contains("--runtime"),
        "{stderr}"
    );
    Ok(())
}
