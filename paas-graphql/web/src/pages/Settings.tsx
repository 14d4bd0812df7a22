// An app's settings: env vars (keys listed, values write-only), scaling, custom domains, and
// git (deploy on push, the webhook a git host calls).
import { useEffect, useState } from "preact/hooks";
import { type ApiError, asApiError, gql } from "../api";
import {
  ADD_DOMAIN, CREATE_WEBHOOK, DELETE_WEBHOOK, REMOVE_DOMAIN, UPDATE, type AppDetail, type Scaling,
} from "../queries";
import { ErrorBanner, Notice, time } from "../ui";
import type { Run } from "./AppPage";

interface Props {
  app: AppDetail;
  run: Run;
  busy: boolean;
}

export function EnvSection({ app, run, busy }: Props) {
  const [key, setKey] = useState("");
  const [value, setValue] = useState("");
  const [saved, setSaved] = useState<string | null>(null);
  const set = async (event: Event) => {
    event.preventDefault();
    const k = key.trim();
    if (await run(UPDATE, { input: { setEnv: [{ key: k, value }] } })) {
      setSaved(`${k} set: the app restarts with it.`);
      setKey("");
      setValue("");
    }
  };
  const unset = async (k: string) => {
    if (await run(UPDATE, { input: { unsetEnv: [k] } })) setSaved(`${k} removed: the app restarts without it.`);
  };
  return (
    <div class="card" data-testid="env">
      <h2>Environment</h2>
      <p class="muted">Values are write-only: set a key again to replace its value.</p>
      {saved && <Notice testid="env-notice">{saved}</Notice>}
      {app.env.length === 0 ? (
        <p class="muted">No variables.</p>
      ) : (
        <ul class="rows" data-testid="env-keys">
          {app.env.map((v) => (
            <li key={v.key} data-testid="env-key" data-key={v.key}>
              <code>{v.key}</code>
              <button type="button" class="secondary" data-testid={`env-remove-${v.key}`} disabled={busy} onClick={() => void unset(v.key)}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={set}>
        <input placeholder="KEY" data-testid="env-set-key" value={key} onInput={(e) => setKey(e.currentTarget.value)} />
        <input placeholder="value" type="password" autocomplete="off" data-testid="env-set-value" value={value}
          onInput={(e) => setValue(e.currentTarget.value)} />
        <button type="submit" data-testid="env-set" disabled={busy || !key.trim()}>Set</button>
      </form>
    </div>
  );
}

const FIELDS: [keyof Scaling, string][] = [
  ["minInstances", "Min instances (0 lets it sleep)"],
  ["maxInstances", "Max instances"],
  ["idleSeconds", "Idle seconds before sleep"],
  ["targetConcurrency", "Target requests per instance"],
];

export function ScalingSection({ app, run, busy }: Props) {
  const [form, setForm] = useState<Record<keyof Scaling, string>>(toForm(app.scaling));
  const [saved, setSaved] = useState(false);
  const source = JSON.stringify(app.scaling);
  useEffect(() => setForm(toForm(app.scaling)), [source]);
  const valid = FIELDS.every(([k]) => /^\d+$/.test(form[k].trim()));
  const save = async (event: Event) => {
    event.preventDefault();
    const scaling = Object.fromEntries(FIELDS.map(([k]) => [k, Number(form[k].trim())]));
    setSaved(await run(UPDATE, { input: { scaling } }));
  };
  return (
    <div class="card" data-testid="scaling">
      <h2>Scaling</h2>
      <form class="grid-form" onSubmit={save}>
        {FIELDS.map(([k, label]) => (
          <label key={k}>
            {label}
            <input inputMode="numeric" data-testid={`scaling-${k}`} value={form[k]}
              onInput={(e) => { setSaved(false); setForm({ ...form, [k]: e.currentTarget.value }); }} />
          </label>
        ))}
        <button type="submit" data-testid="scaling-save" disabled={busy || !valid}>Save scaling</button>
      </form>
      {saved && <Notice testid="scaling-notice">Scaling saved.</Notice>}
    </div>
  );
}

function toForm(s: Scaling): Record<keyof Scaling, string> {
  return {
    minInstances: String(s.minInstances),
    maxInstances: String(s.maxInstances),
    idleSeconds: String(s.idleSeconds),
    targetConcurrency: String(s.targetConcurrency),
  };
}

export function DomainsSection({ app, run, busy }: Props) {
  const [domain, setDomain] = useState("");
  const add = async (event: Event) => {
    event.preventDefault();
    if (await run(ADD_DOMAIN, { domain: domain.trim() })) setDomain("");
  };
  return (
    <div class="card" data-testid="domains">
      <h2>Domains</h2>
      <p class="muted">Point a domain's DNS at the router, then add it here.</p>
      {app.domains.length === 0 ? (
        <p class="muted">No custom domain.</p>
      ) : (
        <ul class="rows" data-testid="domain-list">
          {app.domains.map((d) => (
            <li key={d} data-testid="domain" data-domain={d}>
              <code>{d}</code>
              <button type="button" class="secondary" disabled={busy} onClick={() => void run(REMOVE_DOMAIN, { domain: d })}>
                Remove
              </button>
            </li>
          ))}
        </ul>
      )}
      <form class="inline-form" onSubmit={add}>
        <input placeholder="shop.example.com" data-testid="domain-input" value={domain} onInput={(e) => setDomain(e.currentTarget.value)} />
        <button type="submit" data-testid="domain-add" disabled={busy || !domain.trim()}>Add domain</button>
      </form>
    </div>
  );
}

/** Deploy on push, and the webhook: its URL always, its secret once (when made or rotated). */
export function GitSection({ app, run, busy, reload }: Props & { reload: () => Promise<void> }) {
  const [made, setMade] = useState<{ url: string; secret: string } | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const full = (path: string) => `${window.location.origin}${path}`;
  const hook = async (query: string) => {
    setError(null);
    try {
      const data = await gql<{ createWebhook?: { url: string; secret: string } }>(query, { id: app.id });
      setMade(data.createWebhook ? { url: full(data.createWebhook.url), secret: data.createWebhook.secret } : null);
      await reload();
    } catch (e) {
      setError(asApiError(e));
    }
  };
  return (
    <div class="card" data-testid="git">
      <h2>Git</h2>
      <label class="inline">
        <input type="checkbox" data-testid="auto-deploy" checked={app.autoDeploy} disabled={busy}
          onChange={(e) => void run(UPDATE, { input: { autoDeploy: e.currentTarget.checked } })} />
        Deploy every new commit of <code>{app.repository.branch}</code>
      </label>
      {error && <ErrorBanner error={error} />}
      {app.webhook ? (
        <p data-testid="webhook">
          Webhook: <code data-testid="webhook-url">{full(app.webhook.url)}</code>
          <span class="muted">
            {app.webhook.lastDeliveryAt ? ` · last delivery ${time(app.webhook.lastDeliveryAt)}` : " · no delivery yet"}
          </span>
        </p>
      ) : (
        <p class="muted" data-testid="webhook">No webhook: a git host (GitHub, Gitea, Forgejo, GitLab) can call one on every push.</p>
      )}
      {made && (
        <Notice testid="webhook-secret">
          Give the git host this URL and secret (content type <code>application/json</code>, push events).
          The secret is shown this once. <br />
          URL: <code>{made.url}</code> <br />
          Secret: <code data-testid="webhook-secret-value">{made.secret}</code>
        </Notice>
      )}
      <div class="actions">
        <button type="button" data-testid="webhook-create" disabled={busy} onClick={() => void hook(CREATE_WEBHOOK)}>
          {app.webhook ? "New secret" : "Create webhook"}
        </button>
        {app.webhook && (
          <button type="button" class="secondary" data-testid="webhook-delete" disabled={busy} onClick={() => void hook(DELETE_WEBHOOK)}>
            Remove webhook
          </button>
        )}
      </div>
    </div>
  );
}
