// Sign in with an API token (`paas user create` prints one): checked with `me` before it is
// kept, so a wrong token shows the API's UNAUTHENTICATED error here.
import { useState } from "preact/hooks";
import { ApiError, asApiError, gql } from "../api";
import { ME } from "../queries";
import { setToken } from "../session";
import { ErrorBanner } from "../ui";

export function SignIn() {
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    const candidate = value.trim();
    if (!candidate) return;
    setBusy(true);
    setError(null);
    try {
      await gql<{ me: { name: string } }>(ME, {}, candidate);
      setToken(candidate);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin">
      <form class="card" onSubmit={submit} data-testid="sign-in">
        <h1>paas</h1>
        <p class="muted">Sign in with your API token.</p>
        <ErrorBanner error={error} />
        <label>
          Token
          <input
            type="password"
            autocomplete="off"
            data-testid="token"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
          />
        </label>
        <button type="submit" disabled={busy || !value.trim()} data-testid="sign-in-submit">
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}
