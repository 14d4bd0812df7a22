// The frame: a header with the user, the live connection's state and sign out; the page of
// the current route below. Without a token, the sign-in page.
import { useEffect, useState } from "preact/hooks";
import { ApiError, asApiError, gql } from "./api";
import { useConnection } from "./live";
import { ME } from "./queries";
import { useRoute } from "./router";
import { setToken, useToken } from "./session";
import { ErrorBanner, Link } from "./ui";
import { SignIn } from "./pages/SignIn";
import { AppList } from "./pages/AppList";
import { CreateWizard } from "./pages/CreateWizard";
import { AppPage } from "./pages/AppPage";
import { LogsPage } from "./pages/LogsPage";

export function App() {
  const bearer = useToken();
  if (!bearer) return <SignIn />;
  return <Signed bearer={bearer} />;
}

function Signed({ bearer }: { bearer: string }) {
  const route = useRoute();
  const [user, setUser] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(() => {
    gql<{ me: { name: string } }>(ME, {}, bearer)
      .then((data) => setUser(data.me.name))
      .catch((e) => setError(asApiError(e)));
  }, [bearer]);
  return (
    <>
      <header class="top">
        <Link to="/" class="brand" testid="home">paas</Link>
        <nav>
          <Link to="/" testid="nav-apps">Apps</Link>
          <Link to="/new" testid="nav-new">New app</Link>
          <a href="/graphql" target="_blank" rel="noreferrer">API</a>
        </nav>
        <div class="who">
          <ConnectionDot />
          <span data-testid="user">{user ?? ""}</span>
          <button type="button" class="link" data-testid="sign-out" onClick={() => setToken(null)}>
            Sign out
          </button>
        </div>
      </header>
      <main>
        <ErrorBanner error={error} />
        <ConnectionLost />
        <Page route={route} />
      </main>
    </>
  );
}

function Page({ route }: { route: string }) {
  if (route === "/" || route === "/apps") return <AppList />;
  if (route === "/new") return <CreateWizard />;
  const logs = /^\/apps\/([^/]+)\/logs$/.exec(route);
  if (logs) return <LogsPage id={decodeURIComponent(logs[1])} />;
  const app = /^\/apps\/([^/]+)$/.exec(route);
  if (app) return <AppPage key={app[1]} id={decodeURIComponent(app[1])} />;
  return (
    <section class="card">
      <h1>Not found</h1>
      <p>
        No page at this address. <Link to="/">Back to the apps</Link>
      </p>
    </section>
  );
}

function ConnectionDot() {
  const { state, lastClose } = useConnection();
  const label = {
    idle: "",
    connecting: "connecting…",
    live: "live",
    reconnecting: "reconnecting…",
  }[state];
  if (!label) return null;
  return (
    <span class={`conn conn-${state}`} data-testid="connection" title={lastClose ?? ""}>
      {label}
    </span>
  );
}

/** A dropped live connection, while graphql-ws retries it. */
function ConnectionLost() {
  const { state, lastClose } = useConnection();
  if (state !== "reconnecting") return null;
  return (
    <div class="banner warn" role="status" data-testid="connection-lost">
      <strong>CONNECTION_LOST</strong>
      <span>The live connection to the server dropped{lastClose ? ` (${lastClose})` : ""}; reconnecting…</span>
    </div>
  );
}
