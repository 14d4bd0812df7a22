// One app: its status (live: every `applicationStatus` change reloads the page's data), its
// stable URL, the actions, its instances, deployments (rollback, build logs), what the platform
// did to it (tasks; read again every second while one runs), env vars, scaling and domains. Runtime logs have their own page.
import { useCallback, useEffect, useRef, useState } from "preact/hooks";
import { ApiError, asApiError, gql } from "../api";
import { subscribe } from "../live";
import {
  APP, DELETE, REDEPLOY, RESTART, ROLLBACK, START, STATUS, STOP,
  type AppDetail, type Deployment, type StatusChange,
} from "../queries";
import { navigate } from "../router";
import { Badge, ErrorBanner, Link, shortId, time } from "../ui";
import { BuildLog } from "./BuildLog";
import { DomainsSection, EnvSection, GitSection, ScalingSection } from "./Settings";

export type Run = (query: string, variables?: Record<string, unknown>) => Promise<boolean>;

export function AppPage({ id }: { id: string }) {
  const [app, setApp] = useState<AppDetail | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [buildLogOf, setBuildLogOf] = useState<string | null>(null);
  const version = useRef<number | null>(null);

  const load = useCallback(async () => {
    try {
      const data = await gql<{ application: AppDetail | null }>(APP, { id });
      if (!data.application) {
        setError(new ApiError("NOT_FOUND", "No such app."));
        return;
      }
      setApp(data.application);
      if (version.current === null) version.current = data.application.version;
    } catch (e) {
      setError(asApiError(e));
    }
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  // Live: every status change reloads the app (tasks, deployments and instances follow).
  const loaded = app !== null;
  useEffect(() => {
    if (!loaded) return;
    let pending: ReturnType<typeof setTimeout> | null = null;
    const stop = subscribe<{ applicationStatus: StatusChange }>(
      STATUS,
      { id, afterVersion: version.current },
      {
        next: ({ applicationStatus: change }) => {
          setApp((current) => (current ? { ...current, status: change.status, statusReason: change.reason } : current));
          if (pending) clearTimeout(pending);
          pending = setTimeout(() => void load(), 150);
        },
        error: setError,
      },
    );
    return () => {
      if (pending) clearTimeout(pending);
      stop();
    };
  }, [id, loaded, load]);

  // A task under way may change the app without a status change (a new instance of a running
  // app): read the app again while one runs.
  const working = app?.tasks.some((t) => t.state === "QUEUED" || t.state === "RUNNING") ?? false;
  useEffect(() => {
    if (!working) return;
    const timer = setInterval(() => void load(), 1000);
    return () => clearInterval(timer);
  }, [working, load]);

  /** A mutation answering the app: the page shows its answer, or the error. */
  const run: Run = async (query, variables = {}) => {
    setBusy(true);
    setError(null);
    try {
      const data = await gql<Record<string, AppDetail>>(query, { id, ...variables });
      const next: unknown = Object.values(data)[0];
      if (next && typeof next === "object") setApp(next as AppDetail);
      return true;
    } catch (e) {
      setError(asApiError(e));
      return false;
    } finally {
      setBusy(false);
    }
  };

  if (!app) {
    return (
      <section>
        <ErrorBanner error={error} />
        {!error && <p class="muted">Loading…</p>}
      </section>
    );
  }

  const current = currentDeployment(app);
  const latestTask = app.tasks[0];
  return (
    <section class="app-page" data-testid="app-page">
      <div class="title-row">
        <h1 data-testid="app-name">{app.name}</h1>
        <Badge value={app.status} testid="app-status" />
      </div>
      <ErrorBanner error={error} onClose={() => setError(null)} />
      <div class="card facts">
        <p>
          <a href={app.endpoint.url} target="_blank" rel="noreferrer" data-testid="app-url">{app.endpoint.url}</a>
        </p>
        {app.statusReason && <p class="bad" data-testid="status-reason">{app.statusReason}</p>}
        <dl>
          <dt>Wanted</dt>
          <dd data-testid="desired-state">{app.desiredState}</dd>
          <dt>Language</dt>
          <dd>{app.language ?? "—"}</dd>
          <dt>Repository</dt>
          <dd class="wrap">{app.repository.url} @ {app.repository.branch}{app.repository.commit ? ` (${app.repository.commit.slice(0, 10)})` : ""}</dd>
          <dt>Port</dt>
          <dd>{app.port ?? "from $PORT"}</dd>
        </dl>
        {latestTask && (
          <p data-testid="latest-task">
            Latest: <strong>{latestTask.kind}</strong> <Badge value={latestTask.state} />{" "}
            {latestTask.progress && <span class="muted">{latestTask.progress}</span>}
            {latestTask.error && <span class="bad"> {latestTask.error}</span>}
          </p>
        )}
        <Actions app={app} run={run} busy={busy} />
        <p>
          <Link to={`/apps/${app.id}/logs`} class="button secondary" testid="open-logs">Runtime logs</Link>
        </p>
      </div>

      <div class="card">
        <h2>Instances</h2>
        {app.instances.length === 0 ? (
          <p class="muted">None running.</p>
        ) : (
          <ul class="rows" data-testid="instances">
            {app.instances.map((i) => (
              <li key={i.id}>
                <Badge value={i.state} /> <code>{i.host}:{i.port}</code>{" "}
                <span class="muted">deployment {shortId(i.deployment)} · since {time(i.startedAt)}</span>
              </li>
            ))}
          </ul>
        )}
      </div>

      <div class="card">
        <h2>Deployments</h2>
        <ul class="rows" data-testid="deployments">
          {app.deployments.map((d) => (
            <DeploymentRow
              key={d.id}
              deployment={d}
              current={d.id === current}
              busy={busy}
              onLog={() => setBuildLogOf(buildLogOf === d.id ? null : d.id)}
              onRollback={() => void run(ROLLBACK, { deployment: d.id })}
            />
          ))}
        </ul>
        {buildLogOf && <BuildLog deployment={buildLogOf} />}
      </div>

      <div class="card">
        <h2>History</h2>
        <ul class="rows" data-testid="tasks">
          {app.tasks.map((t) => (
            <li key={t.id} data-testid="task" data-kind={t.kind} data-state={t.state}>
              <strong>{t.kind}</strong> <Badge value={t.state} />{" "}
              <span class="muted">{time(t.createdAt)}</span>
              {t.progress && <span class="muted"> · {t.progress}</span>}
              {t.error && <div class="bad">{t.error}</div>}
            </li>
          ))}
        </ul>
      </div>

      <EnvSection app={app} run={run} busy={busy} />
      <ScalingSection app={app} run={run} busy={busy} />
      <DomainsSection app={app} run={run} busy={busy} />
      <GitSection app={app} run={run} busy={busy} reload={load} />
    </section>
  );
}

/** The deployment the app serves: the one its running instances run, else the newest running one. */
function currentDeployment(app: AppDetail): string | null {
  const serving = app.instances.find((i) => i.state === "RUNNING");
  if (serving) return serving.deployment;
  return app.deployments.find((d) => d.status === "RUNNING")?.id ?? null;
}

function DeploymentRow(props: {
  deployment: Deployment;
  current: boolean;
  busy: boolean;
  onLog: () => void;
  onRollback: () => void;
}) {
  const d = props.deployment;
  // An earlier deployment that built an image can run again.
  const canRollback = !props.current && (d.status === "BUILT" || d.status === "RUNNING" || d.status === "STOPPED");
  return (
    <li data-testid="deployment" data-deployment-id={d.id} data-status={d.status}>
      <div class="row-main">
        <Badge value={d.status} />
        <code>{shortId(d.id)}</code>
        {d.commit && <code class="muted">{d.commit.slice(0, 10)}</code>}
        {props.current && <span class="tag" data-testid="current-deployment">current</span>}
        {d.origin && <span class="muted">image of {shortId(d.origin)}</span>}
        <span class="muted">{time(d.createdAt)}</span>
      </div>
      {d.error && <div class="bad">{d.error}</div>}
      <div class="row-actions">
        <button type="button" class="secondary" data-testid="build-log-toggle" onClick={props.onLog}>Build log</button>
        {canRollback && (
          <button type="button" data-testid="rollback" disabled={props.busy} onClick={props.onRollback}>
            Roll back to this
          </button>
        )}
      </div>
    </li>
  );
}

function Actions({ app, run, busy }: { app: AppDetail; run: Run; busy: boolean }) {
  const [confirming, setConfirming] = useState(false);
  const [typed, setTyped] = useState("");
  const stopped = app.desiredState === "STOPPED";
  const remove = async () => {
    if (await run(DELETE)) navigate("/");
  };
  return (
    <div class="actions">
      <button type="button" data-testid="redeploy" disabled={busy} onClick={() => void run(REDEPLOY)}>Redeploy</button>
      <button type="button" data-testid="restart" disabled={busy || stopped} onClick={() => void run(RESTART)}>Restart</button>
      {stopped ? (
        <button type="button" data-testid="start" disabled={busy} onClick={() => void run(START)}>Start</button>
      ) : (
        <button type="button" data-testid="stop" disabled={busy} onClick={() => void run(STOP)}>Stop</button>
      )}
      <button type="button" class="danger" data-testid="delete" disabled={busy} onClick={() => setConfirming(true)}>Delete</button>
      {confirming && (
        <div class="confirm" data-testid="delete-confirm">
          <label>
            Type <strong>{app.name}</strong> to delete the app, its instances and images:
            <input data-testid="delete-name" value={typed} autocomplete="off" onInput={(e) => setTyped(e.currentTarget.value)} />
          </label>
          <button type="button" class="danger" data-testid="delete-confirm-button" disabled={busy || typed !== app.name} onClick={() => void remove()}>
            Delete {app.name}
          </button>
          <button type="button" class="secondary" onClick={() => { setConfirming(false); setTyped(""); }}>Cancel</button>
        </div>
      )}
    </div>
  );
}
