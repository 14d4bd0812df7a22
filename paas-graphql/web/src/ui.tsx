// Small pieces every page uses: the error banner, status badges, in-app links, times.
import type { ComponentChildren } from "preact";
import { ApiError } from "./api";
import { onLinkClick, BASE } from "./router";

/** An error as people read it: the API's code, then its message. */
export function ErrorBanner({ error, onClose }: { error: ApiError | null; onClose?: () => void }) {
  if (!error) return null;
  return (
    <div class="banner error" role="alert" data-testid="error">
      <strong data-testid="error-code">{error.code}</strong>
      <span data-testid="error-message">{error.message}</span>
      {onClose && (
        <button type="button" class="link" onClick={onClose} aria-label="Dismiss">
          ×
        </button>
      )}
    </div>
  );
}

export function Notice({ children, testid }: { children: ComponentChildren; testid?: string }) {
  return (
    <div class="banner notice" role="status" data-testid={testid}>
      {children}
    </div>
  );
}

export function Badge({ value, testid }: { value: string; testid?: string }) {
  return (
    <span class={`badge badge-${value.toLowerCase()}`} data-testid={testid}>
      {value}
    </span>
  );
}

export function Link({ to, children, testid, class: cls }: { to: string; children: ComponentChildren; testid?: string; class?: string }) {
  return (
    <a href={BASE + to} class={cls} data-testid={testid} onClick={(e) => onLinkClick(e, to)}>
      {children}
    </a>
  );
}

export function time(iso: string | null | undefined): string {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function shortId(id: string): string {
  return id.length > 8 ? id.slice(-8) : id;
}
