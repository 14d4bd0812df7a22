// A deployment's build log, live: `buildLogs(deployment)` replays it from its first line and
// ends when the build has ended.
import { useEffect, useRef, useState } from "preact/hooks";
import { ApiError } from "../api";
import { subscribe } from "../live";
import { BUILD_LOGS, type LogEvent } from "../queries";
import { ErrorBanner, shortId } from "../ui";

export function BuildLog({ deployment }: { deployment: string }) {
  const [lines, setLines] = useState<string[]>([]);
  const [ended, setEnded] = useState(false);
  const [error, setError] = useState<ApiError | null>(null);
  const box = useRef<HTMLPreElement>(null);
  useEffect(() => {
    setLines([]);
    setEnded(false);
    setError(null);
    const seen = new Set<string>();
    return subscribe<{ buildLogs: LogEvent }>(BUILD_LOGS, { deployment }, {
      next: ({ buildLogs: event }) => {
        if (event.__typename === "LogLine") {
          // A resubscription after a dropped connection replays from the first line.
          if (seen.has(event.timestamp)) return;
          seen.add(event.timestamp);
          setLines((all) => [...all, event.text]);
        } else {
          setLines((all) => [...all, `… ${event.skipped} lines skipped (the log was written faster than read)`]);
        }
      },
      error: setError,
      complete: () => setEnded(true),
    });
  }, [deployment]);
  useEffect(() => {
    const el = box.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [lines]);
  return (
    <div class="build-log" data-testid="build-log">
      <div class="log-head">
        <span>Build log of deployment {shortId(deployment)}</span>
        <span class="muted" data-testid="build-log-state">{ended ? "ended" : "following…"}</span>
      </div>
      <ErrorBanner error={error} />
      <pre ref={box} class="log" data-testid="build-log-lines">
        {lines.join("\n")}
      </pre>
    </div>
  );
}
