// An app's runtime log. The tail first (`logs(direction: BACKWARD)`, newest first, shown oldest
// at the top); "Load older" pages back with the exact cursor (the oldest line's timestamp as
// both `from` and `lastNano`, so the line already shown is not sent again); and new lines
// follow live from the `logs` subscription started at the newest line's timestamp (the line at
// that cursor, which the subscription sends again, is skipped). Timestamps are unique within an
// app, so a line seen twice (a resubscription after a dropped connection replays from the
// cursor) is shown once. A `LogsLagged` marker is replaced by the lines it stands for, read
// with `logs(from: first)`.
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { ApiError, asApiError, gql } from "../api";
import { subscribe } from "../live";
import { LOG_FOLLOW, LOG_PAGE, type LogEvent, type LogLine, type LogPage } from "../queries";
import { ErrorBanner, Link } from "../ui";

type Item =
  | { kind: "line"; line: LogLine }
  | { kind: "lag"; id: string; skipped: number; first: string; last: string };

const SIZES = [20, 100, 500];

async function page(variables: Record<string, unknown>): Promise<LogPage> {
  return (await gql<{ logs: LogPage }>(LOG_PAGE, variables)).logs;
}

export function LogsPage({ id }: { id: string }) {
  const [limit, setLimit] = useState(100);
  const [items, setItems] = useState<Item[]>([]);
  const [older, setOlder] = useState<string | null>(null);
  const [atStart, setAtStart] = useState(false);
  const [loading, setLoading] = useState(true);
  const [following, setFollowing] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const seen = useRef(new Set<string>());
  const box = useRef<HTMLDivElement>(null);
  // Scroll handling: stick to the bottom while the reader is there; keep the view still when
  // older lines are put above it.
  const stick = useRef(true);
  const keepFromBottom = useRef<number | null>(null);

  const fresh = (lines: LogLine[]) => lines.filter((l) => !seen.current.has(l.timestamp));
  const remember = (lines: LogLine[]) => lines.forEach((l) => seen.current.add(l.timestamp));

  useEffect(() => {
    let live = true;
    let stop: (() => void) | null = null;
    seen.current = new Set();
    setItems([]);
    setLoading(true);
    setError(null);
    setFollowing(false);
    stick.current = true;

    const fillLag = async (lag: Extract<Item, { kind: "lag" }>) => {
      const found: LogLine[] = [];
      let cursor: string | null = null;
      for (;;) {
        const p: LogPage = await page({
          appId: id, from: cursor ?? lag.first, lastNano: cursor, limit: 1000, direction: "FORWARD",
        });
        const within = p.lines.filter((l) => l.timestamp <= lag.last);
        found.push(...within);
        if (within.length < p.lines.length || p.lines.length < 1000 || !p.lastNano) break;
        cursor = p.lastNano;
      }
      if (!live) return;
      setItems((all) => {
        const lines = fresh(found);
        remember(lines);
        return all.flatMap((it) => (it.kind === "lag" && it.id === lag.id ? lines.map((line) => ({ kind: "line" as const, line })) : [it]));
      });
    };

    (async () => {
      try {
        const tail = await page({ appId: id, direction: "BACKWARD", limit });
        if (!live) return;
        const lines = [...tail.lines].reverse();
        remember(lines);
        setItems(lines.map((line) => ({ kind: "line", line })));
        setOlder(tail.lastNano);
        setAtStart(tail.lines.length < limit);
        setLoading(false);
        const newest = tail.lines[0]?.timestamp ?? null;
        stop = subscribe<{ logs: LogEvent }>(LOG_FOLLOW, newest ? { appId: id, from: newest } : { appId: id }, {
          next: ({ logs: event }) => {
            setFollowing(true);
            if (event.__typename === "LogLine") {
              if (seen.current.has(event.timestamp)) return;
              seen.current.add(event.timestamp);
              setItems((all) => [...all, { kind: "line", line: event }]);
            } else {
              const lag = { kind: "lag" as const, id: `${event.first}-${event.last}`, skipped: event.skipped, first: event.first, last: event.last };
              setItems((all) => [...all, lag]);
              fillLag(lag).catch((e) => live && setError(asApiError(e)));
            }
          },
          error: (e) => live && setError(e),
          complete: () => live && setFollowing(false),
        });
        setFollowing(true);
      } catch (e) {
        if (live) {
          setError(asApiError(e));
          setLoading(false);
        }
      }
    })();
    return () => {
      live = false;
      stop?.();
    };
  }, [id, limit]);

  const loadOlder = async () => {
    if (!older) return;
    setLoading(true);
    setError(null);
    try {
      const p = await page({ appId: id, direction: "BACKWARD", from: older, lastNano: older, limit });
      const lines = fresh([...p.lines].reverse());
      remember(lines);
      const el = box.current;
      keepFromBottom.current = el ? el.scrollHeight - el.scrollTop : null;
      setItems((all) => [...lines.map((line) => ({ kind: "line" as const, line })), ...all]);
      if (p.lastNano) setOlder(p.lastNano);
      setAtStart(p.lines.length < limit);
    } catch (e) {
      setError(asApiError(e));
    } finally {
      setLoading(false);
    }
  };

  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    if (keepFromBottom.current !== null) {
      el.scrollTop = el.scrollHeight - keepFromBottom.current;
      keepFromBottom.current = null;
    } else if (stick.current) {
      el.scrollTop = el.scrollHeight;
    }
  }, [items]);

  const onScroll = () => {
    const el = box.current;
    if (el) stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24;
  };

  return (
    <section data-testid="logs-page">
      <div class="title-row">
        <h1>Logs</h1>
        <Link to={`/apps/${id}`} testid="back-to-app">Back to the app</Link>
      </div>
      <ErrorBanner error={error} onClose={() => setError(null)} />
      <div class="log-toolbar">
        <button type="button" data-testid="load-older" disabled={loading || atStart || !older} onClick={() => void loadOlder()}>
          {atStart ? "Start of the log" : "Load older"}
        </button>
        <label class="inline">
          Lines per page
          <select data-testid="log-page-size" value={String(limit)} onChange={(e) => setLimit(Number(e.currentTarget.value))}>
            {SIZES.map((n) => (
              <option key={n} value={String(n)}>{n}</option>
            ))}
          </select>
        </label>
        <span class="muted" data-testid="log-follow-state">{following ? "following live" : loading ? "loading…" : ""}</span>
      </div>
      <div class="log runtime-log" ref={box} onScroll={onScroll} data-testid="log-lines">
        {items.length === 0 && !loading && <div class="muted">No lines yet.</div>}
        {items.map((it) =>
          it.kind === "line" ? (
            <div key={it.line.timestamp} class={`log-line stream-${it.line.stream.toLowerCase()}`} data-testid="log-line" data-ts={it.line.timestamp}>
              <span class="ts">{it.line.timestamp.slice(11, 23)}</span>
              <span class="stream">{it.line.stream}</span>
              <span class="text">{it.line.text}</span>
            </div>
          ) : (
            <div key={it.id} class="log-lag" data-testid="log-lagged">
              … {it.skipped} lines were written faster than shown; loading them…
            </div>
          ),
        )}
      </div>
    </section>
  );
}
