// The signed-in token, kept in localStorage so a reload stays signed in. Components re-render
// on a change through useToken().
import { useEffect, useState } from "preact/hooks";

const KEY = "paas.token";
const listeners = new Set<(token: string | null) => void>();

export function token(): string | null {
  try {
    return localStorage.getItem(KEY);
  } catch {
    return null;
  }
}

export function setToken(value: string | null): void {
  if (value === null) {
    localStorage.removeItem(KEY);
  } else {
    localStorage.setItem(KEY, value);
  }
  for (const listener of listeners) listener(value);
}

export function onTokenChange(listener: (token: string | null) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function useToken(): string | null {
  const [value, set] = useState(token());
  useEffect(() => onTokenChange(set), []);
  return value;
}
