// Creating an app: its name (checked as you type with `nameAvailable`), its repository and
// branch (checked as you type with `repository`, which also names the language detected; another
// can be chosen), an optional port and env vars; then `createApplication`, and the build
// followed live until the app runs or fails.
import { useEffect, useState } from "preact/hooks";
import { ApiError, asApiError, gql } from "../api";
import { useDebounced } from "../hooks";
import { subscribe } from "../live";
import { CREATE, NAME_AVAILABLE, REPOSITORY, STATUS, type AppStatus, type Language, type RepositoryCheck, type StatusChange } from "../queries";
import { Badge, ErrorBanner, Link } from "../ui";
import { BuildLog } from "./BuildLog";

type Check<T> = { state: "idle" } | { state: "checking" } | { state: "done"; value: T } | { state: "error"; error: ApiError };

/** Runs `run` on the debounced `key` (skipped while `key` is empty); the answer shows while
 * `key` is still what was checked. */
function useCheck<T>(key: string, run: (key: string) => Promise<T>): Check<T> {
  const settled = useDebounced(key, 300);
  const [check, setCheck] = useState<Check<T>>({ state: "idle" });
  useEffect(() => {
    if (!settled) {
      setCheck({ state: "idle" });
      return;
    }
    let live = true;
    setCheck({ state: "checking" });
    run(settled)
      .then((value) => live && setCheck({ state: "done", value }))
      .catch((e) => live && setCheck({ state: "error", error: asApiError(e) }));
    return () => {
      live = false;
    };
  }, [settled]);
  return key === settled ? check : { state: "checking" };
}

const LANGUAGES: Language[] = ["RUST", "GO", "NODE", "PYTHON", "STATIC", "CONTAINERFILE"];

interface EnvRow {
  key: string;
  value: string;
}

interface Created {
  id: string;
  name: string;
  url: string;
  deployment: string | null;
}

export function CreateWizard() {
  const [name, setName] = useState("");
  const [url, setUrl] = useState("");
  const [branch, setBranch] = useState("");
  const [port, setPort] = useState("");
  const [language, setLanguage] = useState<Language | "">("");
  const [env, setEnv] = useState<EnvRow[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);

  const nameCheck = useCheck(name.trim(), (checked) =>
    gql<{ nameAvailable: boolean }>(NAME_AVAILABLE, { name: checked }).then((d) => d.nameAvailable),
  );
  const repoKey = url.trim() ? JSON.stringify([url.trim(), branch.trim()]) : "";
  const repoCheck = useCheck(repoKey, (checked) => {
    const [u, b] = JSON.parse(checked) as [string, string];
    return gql<{ repository: RepositoryCheck }>(REPOSITORY, { url: u, branch: b || null }).then((d) => d.repository);
  });

  if (created) return <Follow created={created} />;

  const ready =
    nameCheck.state === "done" && nameCheck.value &&
    repoCheck.state === "done" && repoCheck.value.exists && repoCheck.value.branchExists &&
    env.every((row) => row.key.trim() !== "") &&
    (port.trim() === "" || /^\d+$/.test(port.trim()));

  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const input: Record<string, unknown> = {
        name: name.trim(),
        repository: { url: url.trim(), branch: branch.trim() || null },
        env: env.map((row) => ({ key: row.key.trim(), value: row.value })),
      };
      if (port.trim()) input.port = Number(port.trim());
      if (language) input.language = language;
      const data = await gql<{
        createApplication: { application: { id: string; name: string; endpoint: { url: string }; deployments: { id: string }[] } };
      }>(CREATE, { input });
      const app = data.createApplication.application;
      setCreated({ id: app.id, name: app.name, url: app.endpoint.url, deployment: app.deployments[0]?.id ?? null });
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>New app</h1>
      <form class="card wizard" onSubmit={submit} data-testid="wizard">
        <fieldset>
          <legend>1. Name</legend>
          <label>
            Name
            <input data-testid="name" value={name} placeholder="my-app" autocomplete="off"
              onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <NameResult check={nameCheck} />
        </fieldset>
        <fieldset>
          <legend>2. Repository</legend>
          <label>
            Git URL
            <input data-testid="repo-url" value={url} placeholder="https://github.com/you/app.git" autocomplete="off"
              onInput={(e) => setUrl(e.currentTarget.value)} />
          </label>
          <label>
            Branch <span class="muted">(default: the repository's default branch)</span>
            <input data-testid="repo-branch" value={branch} placeholder="main" autocomplete="off"
              onInput={(e) => setBranch(e.currentTarget.value)} />
          </label>
          <RepoResult check={repoCheck} branch={branch.trim()} />
          <label>
            Build as
            <select data-testid="language-choice" value={language}
              onChange={(e) => setLanguage(e.currentTarget.value as Language | "")}>
              <option value="">the detected language</option>
              {LANGUAGES.map((l) => (
                <option key={l} value={l}>{l}</option>
              ))}
            </select>
          </label>
        </fieldset>
        <fieldset>
          <legend>3. Port and environment</legend>
          <label>
            Port <span class="muted">(optional: default, the platform picks one and passes it in $PORT)</span>
            <input data-testid="port" inputMode="numeric" value={port} onInput={(e) => setPort(e.currentTarget.value)} />
          </label>
          <EnvRows rows={env} onChange={setEnv} />
        </fieldset>
        <ErrorBanner error={error} />
        <button type="submit" disabled={!ready || busy} data-testid="create">
          {busy ? "Creating…" : "Create and deploy"}
        </button>
      </form>
    </section>
  );
}

function NameResult({ check }: { check: Check<boolean> }) {
  switch (check.state) {
    case "idle":
      return <p class="hint muted">1–63 of a–z, 0–9 and -.</p>;
    case "checking":
      return <p class="hint muted" data-testid="name-check">checking…</p>;
    case "error":
      return <p class="hint bad" data-testid="name-check">{check.error.code}: {check.error.message}</p>;
    case "done":
      return check.value ? (
        <p class="hint good" data-testid="name-check">available</p>
      ) : (
        <p class="hint bad" data-testid="name-check">taken</p>
      );
  }
}

function RepoResult({ check, branch }: { check: Check<RepositoryCheck>; branch: string }) {
  switch (check.state) {
    case "idle":
      return null;
    case "checking":
      return <p class="hint muted" data-testid="repo-check">checking…</p>;
    case "error":
      return <p class="hint bad" data-testid="repo-check">{check.error.code}: {check.error.message}</p>;
    case "done": {
      const repo = check.value;
      if (!repo.exists) return <p class="hint bad" data-testid="repo-check">Repository not found (or not readable).</p>;
      const shown = branch || repo.defaultBranch || "default branch";
      return (
        <div class="hint" data-testid="repo-check">
          <p class="good" data-testid="repo-exists">Repository found.</p>
          {repo.branchExists ? (
            <p class="good" data-testid="branch-check">Branch {shown} exists.</p>
          ) : (
            <p class="bad" data-testid="branch-check">No branch {shown}.</p>
          )}
          <p data-testid="language">
            Language: {repo.language ? <strong>{repo.language}</strong> : <span class="muted">not detected</span>}
          </p>
        </div>
      );
    }
  }
}

export function EnvRows({ rows, onChange }: { rows: EnvRow[]; onChange: (rows: EnvRow[]) => void }) {
  const set = (i: number, row: EnvRow) => onChange(rows.map((r, j) => (i === j ? row : r)));
  return (
    <div class="env-rows" data-testid="env-rows">
      {rows.map((row, i) => (
        <div class="env-row" key={i}>
          <input placeholder="KEY" data-testid={`env-key-${i}`} value={row.key}
            onInput={(e) => set(i, { ...row, key: e.currentTarget.value })} />
          <input placeholder="value" data-testid={`env-value-${i}`} value={row.value}
            onInput={(e) => set(i, { ...row, value: e.currentTarget.value })} />
          <button type="button" class="secondary" onClick={() => onChange(rows.filter((_, j) => j !== i))}>Remove</button>
        </div>
      ))}
      <button type="button" class="secondary" data-testid="env-add" onClick={() => onChange([...rows, { key: "", value: "" }])}>
        Add variable
      </button>
    </div>
  );
}

/** After creation: the status and the build log, live, until RUNNING or FAILED. */
function Follow({ created }: { created: Created }) {
  const [status, setStatus] = useState<AppStatus>("PENDING");
  const [reason, setReason] = useState<string | null>(null);
  const [deployment, setDeployment] = useState(created.deployment);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(
    () =>
      subscribe<{ applicationStatus: StatusChange }>(STATUS, { id: created.id }, {
        next: ({ applicationStatus: change }) => {
          setStatus(change.status);
          setReason(change.reason);
          if (change.deploymentId) setDeployment((d) => d ?? change.deploymentId);
        },
        error: setError,
      }),
    [created.id],
  );
  return (
    <section>
      <h1>{created.name}</h1>
      <div class="card" data-testid="follow">
        <p>
          Status: <Badge value={status} testid="follow-status" />
        </p>
        {status === "FAILED" && <p class="bad" data-testid="follow-reason">{reason ?? "The deployment failed."}</p>}
        {status === "RUNNING" && (
          <p class="good">
            Running at <a href={created.url} target="_blank" rel="noreferrer" data-testid="follow-url">{created.url}</a>
          </p>
        )}
        <ErrorBanner error={error} />
        <p>
          <Link to={`/apps/${created.id}`} testid="open-app">Open the app's page</Link>
        </p>
      </div>
      {deployment && <BuildLog deployment={deployment} />}
    </section>
  );
}
