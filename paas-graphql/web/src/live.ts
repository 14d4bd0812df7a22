// Subscriptions: one graphql-ws connection (graphql-transport-ws on /graphql/ws) per token,
// multiplexing every subscription of the page. The token goes in connectionParams, as the
// playground sends it. A dropped connection is retried (graphql-ws resubscribes); the header
// shows the connection's state from useConnection().
import { createClient, type Client } from "graphql-ws";
import { useEffect, useState } from "preact/hooks";
import { ApiError, asApiError } from "./api";
import { onTokenChange, token } from "./session";

export type ConnectionState = "idle" | "connecting" | "live" | "reconnecting";

let client: Client | null = null;
let state: ConnectionState = "idle";
let lastClose: string | null = null;
const watchers = new Set<() => void>();

function setState(next: ConnectionState, close: string | null = lastClose): void {
  state = next;
  lastClose = close;
  for (const watch of watchers) watch();
}

function wsUrl(): string {
  const url = new URL("/graphql/ws", window.location.href);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

function open(): Client {
  if (client) return client;
  const bearer = token();
  client = createClient({
    url: wsUrl(),
    lazy: true,
    lazyCloseTimeout: 3000,
    keepAlive: 15000,
    connectionParams: bearer ? { Authorization: `Bearer ${bearer}` } : {},
    retryAttempts: Number.POSITIVE_INFINITY,
    // Retry whatever closed the socket, but not a refused token (4403) or a bad request (4400).
    shouldRetry: (event) => {
      const code = (event as CloseEvent | undefined)?.code;
      return code !== 4403 && code !== 4400;
    },
    on: {
      connecting: (isRetry) => setState(isRetry ? "reconnecting" : "connecting"),
      connected: () => setState("live", null),
      closed: (event) => {
        const close = event as CloseEvent | undefined;
        // 1000: closed on purpose (no subscription left, or a new token); 4400/4403 are not
        // retried; anything else is a drop, retried.
        if (!close || close.code === 1000) {
          setState("idle", null);
        } else {
          const reason = `closed (${close.code}${close.reason ? `: ${close.reason}` : ""})`;
          setState(close.code === 4403 || close.code === 4400 ? "idle" : "reconnecting", reason);
        }
      },
    },
  });
  return client;
}

// A new token, a new connection.
onTokenChange(() => {
  client?.dispose();
  client = null;
  setState("idle", null);
});

export interface Sink<T> {
  next: (data: T) => void;
  error?: (error: ApiError) => void;
  complete?: () => void;
}

/** Subscribes; returns the function that ends the subscription. */
export function subscribe<T>(query: string, variables: Record<string, unknown>, sink: Sink<T>): () => void {
  return open().subscribe<T>(
    { query, variables },
    {
      next: (result) => {
        if (result.errors && result.errors.length > 0) {
          sink.error?.(asApiError(result.errors));
        } else if (result.data) {
          sink.next(result.data as T);
        }
      },
      error: (error) => {
        if (error instanceof CloseEvent || (error && typeof error === "object" && "code" in error && "reason" in error)) {
          const close = error as CloseEvent;
          sink.error?.(new ApiError("CONNECTION_CLOSED", `The live connection closed (${close.code}${close.reason ? `: ${close.reason}` : ""}).`));
        } else if (error instanceof Event) {
          sink.error?.(new ApiError("CONNECTION_FAILED", "The live connection to the server failed."));
        } else {
          sink.error?.(asApiError(error));
        }
      },
      complete: () => sink.complete?.(),
    },
  );
}

export function useConnection(): { state: ConnectionState; lastClose: string | null } {
  const [, tick] = useState(0);
  useEffect(() => {
    const watch = () => tick((n) => n + 1);
    watchers.add(watch);
    return () => {
      watchers.delete(watch);
    };
  }, []);
  return { state, lastClose };
}
