//! Nomad down, a job Nomad rejects, no capacity, a failed canary: told apart, and the job taken
//! back to the version that serves.

use paas_core::Fault;
use paas_core::model::AppId;
use paas_core::runtime::{InstanceState, Runtime};
use paas_runner::nomad::job::job_id;
use paas_tests::nomad::NextAlloc;

use super::{cluster, get, spec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nomad_down_rejected_jobs_and_no_capacity_are_told_apart() -> anyhow::Result<()> {
    let (mut fake, runtime) = cluster().await?;

    fake.set_next(NextAlloc::Reject("Task app: missing driver config".into()));
    let rejected = runtime
        .start(&spec(AppId::new())?)
        .await
        .expect_err("rejected");
    assert_eq!(rejected.fault(), Fault::User, "{rejected}");
    assert!(
        rejected
            .to_string()
            .contains("Task app: missing driver config"),
        "Nomad's message: {rejected}"
    );

    fake.set_next(NextAlloc::NoCapacity);
    let fresh = AppId::new();
    let unplaced = runtime.start(&spec(fresh)?).await.expect_err("unplaced");
    assert_eq!(unplaced.fault(), Fault::User);
    let text = unplaced.to_string();
    assert!(text.contains("no capacity"), "{text}");
    assert!(text.contains("memory exhausted on 1 node(s)"), "{text}");
    // Nomad would place it once room frees (its blocked evaluation): a first version is purged.
    assert!(
        fake.job(&job_id(fresh)).is_none(),
        "the unplaced job is gone"
    );

    // No capacity for a redeploy: the job goes back to the version that serves, which goes on.
    fake.set_next(NextAlloc::Run);
    let live_app = AppId::new();
    let live = runtime.start(&spec(live_app)?).await?;
    fake.set_next(NextAlloc::NoCapacity);
    let mut bigger = spec(live_app)?;
    bigger.image = "localhost/paas-web:v2".into();
    let unplaced = runtime.start(&bigger).await.expect_err("unplaced");
    assert!(unplaced.to_string().contains("no capacity"), "{unplaced}");
    assert_eq!(fake.reverts(), [(job_id(live_app), 0)]);
    let job = fake
        .job(&job_id(live_app))
        .ok_or_else(|| anyhow::anyhow!("the job is gone"))?;
    assert_eq!(job.version, 2, "v0, the unplaced v1, v0 again as v2");
    assert_eq!(
        job.job["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        "localhost/paas-web:v1"
    );
    assert_eq!(runtime.inspect(&live.id).await?, InstanceState::Running);
    assert_eq!(get(&live.endpoint.url()).await?, "hello from nomad");

    fake.set_next(NextAlloc::Fail {
        exit_code: 127,
        message: "exec: python3: not found".into(),
    });
    let failed = runtime
        .start(&spec(AppId::new())?)
        .await
        .expect_err("failed");
    assert_eq!(failed.fault(), Fault::User);
    assert!(failed.to_string().contains("exit code 127"), "{failed}");
    assert!(
        failed
            .to_string()
            .contains("Failed due to unhealthy allocations"),
        "the job's deployment says why: {failed}"
    );

    // A redeploy whose task fails: Nomad rolls the job back itself (AutoRevert), the runtime's
    // own revert finds it so, and the live allocation serves on.
    fake.set_next(NextAlloc::Fail {
        exit_code: 1,
        message: "ImportError: no module named app".into(),
    });
    let mut broken = spec(live_app)?;
    broken.image = "localhost/paas-web:v3".into();
    let failed = runtime.start(&broken).await.expect_err("failed");
    assert!(
        failed.to_string().contains("rolling back to job version"),
        "{failed}"
    );
    let job = fake
        .job(&job_id(live_app))
        .ok_or_else(|| anyhow::anyhow!("the job is gone"))?;
    assert_eq!(
        job.job["TaskGroups"][0]["Tasks"][0]["Config"]["image"],
        "localhost/paas-web:v1"
    );
    assert_eq!(get(&live.endpoint.url()).await?, "hello from nomad");
    assert!(fake.problems().is_empty(), "{:?}", fake.problems());

    fake.stop();
    let down = runtime.start(&spec(AppId::new())?).await.expect_err("down");
    assert_eq!(
        down.fault(),
        Fault::Platform,
        "retried by the retry policy: {down}"
    );
    assert!(down.to_string().contains("unreachable"), "{down}");
    assert!(runtime.inspect("some-alloc").await.is_err());
    Ok(())
}
