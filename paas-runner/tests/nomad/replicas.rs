//! Replicas on Nomad are the job group's `count`: scaled through the job's scale endpoint, each
//! allocation its own address; a new version keeps the count; removing one replica lowers the
//! count; a scale-down keeps the oldest.

use std::collections::BTreeSet;

use paas_core::model::AppId;
use paas_core::runtime::Runtime;
use paas_runner::nomad::job::job_id;

use super::{cluster, get, spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_are_the_group_count() -> anyhow::Result<()> {
    let (fake, runtime) = cluster().await?;
    let app = AppId::new();
    let first = spec(app)?;
    let one = runtime.start(&first).await?;

    // Three: the first stays, two more are placed, each at its own address.
    let three = match runtime.scale(&first, 3).await {
        Ok(t) => t.ok_or_else(|| anyhow::anyhow!("Nomad keeps replicas itself"))?,
        Err(e) => anyhow::bail!(
            "{e}: {:?} {:?}",
            fake.allocs_of(&job_id(app)),
            fake.problems()
        ),
    };
    let ids: BTreeSet<&str> = three.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "{three:?}");
    assert!(ids.contains(one.id.as_str()), "the first one stays");
    let ports: BTreeSet<u16> = three.iter().map(|i| i.endpoint.port).collect();
    assert_eq!(ports.len(), 3, "an address each: {three:?}");
    for i in &three {
        assert_eq!(get(&i.endpoint.url()).await?, "hello from nomad");
    }
    let job = fake
        .job(&job_id(app))
        .ok_or_else(|| anyhow::anyhow!("no job"))?;
    assert_eq!(job.job["TaskGroups"][0]["Count"], 3);
    let scaled = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/scale"))
        .ok_or_else(|| anyhow::anyhow!("no scale request"))?;
    assert_eq!(scaled.method, "POST");
    assert_eq!(scaled.body["Target"]["Group"], "app");
    assert_eq!(scaled.body["Count"], 3);

    // A new version keeps the count: Nomad rolls the replicas over to it.
    let second = spec(app)?;
    runtime.start(&second).await?;
    let job = fake
        .job(&job_id(app))
        .ok_or_else(|| anyhow::anyhow!("no job"))?;
    assert_eq!(job.job["TaskGroups"][0]["Count"], 3, "{}", job.job);
    let rolled = runtime
        .scale(&second, 3)
        .await?
        .ok_or_else(|| anyhow::anyhow!("Nomad keeps replicas itself"))?;
    assert_eq!(rolled.len(), 3);
    assert!(
        rolled.iter().all(|i| !ids.contains(i.id.as_str())),
        "all replaced"
    );

    // One replica removed: one fewer in the count (a stopped allocation alone Nomad would place
    // again), the job stays.
    runtime.remove(&rolled[2].id).await?;
    let job = fake
        .job(&job_id(app))
        .ok_or_else(|| anyhow::anyhow!("no job"))?;
    assert_eq!(job.job["TaskGroups"][0]["Count"], 2, "{}", job.job);

    // Down to one: Nomad stops the newest, the oldest stays.
    let left = runtime
        .scale(&second, 1)
        .await?
        .ok_or_else(|| anyhow::anyhow!("Nomad keeps replicas itself"))?;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, rolled[0].id, "the oldest stays");
    let live = fake
        .allocs_of(&job_id(app))
        .into_iter()
        .filter(|a| a.desired_status == "run")
        .count();
    assert_eq!(live, 1);
    assert_eq!(fake.problems(), Vec::<String>::new());
    Ok(())
}
