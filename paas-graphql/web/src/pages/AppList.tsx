// The viewer's apps, a page at a time (`applications(first, after)`: Next follows the page's
// end cursor, Previous goes back to the cursor the earlier page was read with). Each row's
// status follows `applicationStatus` live, all over the one websocket; while an app is being
// deleted the page is read again until it is gone.
import { useEffect, useState } from "preact/hooks";
import { ApiError, asApiError, gql } from "../api";
import { subscribe } from "../live";
import { APPS, STATUS, type AppRow, type AppStatus, type PageInfo, type StatusChange } from "../queries";
import { Badge, ErrorBanner, Link } from "../ui";

const PAGE = 10;

export function AppList() {
  // The cursors the pages seen so far were read with: the last is the current page's.
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [rows, setRows] = useState<AppRow[] | null>(null);
  const [pageInfo, setPageInfo] = useState<PageInfo | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  // Apps being deleted: the page is read again until they are gone.
  const [deleting, setDeleting] = useState<Set<string>>(new Set());
  const [reads, setReads] = useState(0);
  const after = cursors[cursors.length - 1];

  const onStatus = (id: string, status: AppStatus) =>
    setDeleting((ids) => {
      if ((status === "DELETING") === ids.has(id)) return ids;
      const next = new Set(ids);
      if (status === "DELETING") next.add(id);
      else next.delete(id);
      return next;
    });

  useEffect(() => {
    if (deleting.size === 0) return;
    const timer = setInterval(() => setReads((n) => n + 1), 1000);
    return () => clearInterval(timer);
  }, [deleting.size]);

  useEffect(() => {
    let live = true;
    setError(null);
    gql<{ applications: { pageInfo: PageInfo; nodes: AppRow[] } }>(APPS, { first: PAGE, after })
      .then((data) => {
        if (!live) return;
        setRows(data.applications.nodes);
        setPageInfo(data.applications.pageInfo);
        const shown = new Set(data.applications.nodes.map((n) => n.id));
        setDeleting((ids) => new Set([...ids].filter((id) => shown.has(id))));
      })
      .catch((e) => live && setError(asApiError(e)));
    return () => {
      live = false;
    };
  }, [after, reads]);

  return (
    <section>
      <div class="title-row">
        <h1>Apps</h1>
        <Link to="/new" class="button" testid="new-app">New app</Link>
      </div>
      <ErrorBanner error={error} />
      {rows === null ? (
        <p class="muted">Loading…</p>
      ) : rows.length === 0 ? (
        <p class="muted" data-testid="no-apps">
          No apps yet. <Link to="/new">Create one</Link>.
        </p>
      ) : (
        <ul class="app-list" data-testid="app-list">
          {rows.map((row) => (
            <Row key={row.id} row={row} onStatus={onStatus} />
          ))}
        </ul>
      )}
      <div class="pager">
        <button
          type="button"
          data-testid="page-previous"
          disabled={cursors.length <= 1}
          onClick={() => setCursors(cursors.slice(0, -1))}
        >
          Previous
        </button>
        <span class="muted" data-testid="page-number">Page {cursors.length}</span>
        <button
          type="button"
          data-testid="page-next"
          disabled={!pageInfo?.hasNextPage}
          onClick={() => pageInfo?.endCursor && setCursors([...cursors, pageInfo.endCursor])}
        >
          Next
        </button>
      </div>
    </section>
  );
}

function Row({ row, onStatus }: { row: AppRow; onStatus: (id: string, status: AppStatus) => void }) {
  const [status, setStatus] = useState(row.status);
  useEffect(() => onStatus(row.id, status), [status]);
  const [error, setError] = useState<ApiError | null>(null);
  useEffect(
    () =>
      subscribe<{ applicationStatus: StatusChange }>(
        STATUS,
        { id: row.id, afterVersion: row.version },
        {
          next: (data) => setStatus(data.applicationStatus.status),
          error: setError,
        },
      ),
    [row.id, row.version],
  );
  return (
    <li class="app-row" data-testid={`app-row-${row.name}`}>
      <Link to={`/apps/${row.id}`} class="app-name" testid="app-link">{row.name}</Link>
      <Badge value={status} testid="app-status" />
      <a class="muted url" href={row.endpoint.url} target="_blank" rel="noreferrer">
        {row.endpoint.url}
      </a>
      {error && <span class="inline-error" data-testid="row-error">{error.code}: {error.message}</span>}
    </li>
  );
}
