// History routing under /ui/: the server answers index.html for every /ui/<path>, and the
// page picks its view from the path.
import { useEffect, useState } from "preact/hooks";

export const BASE = "/ui";

function current(): string {
  const path = window.location.pathname;
  const inside = path.startsWith(BASE) ? path.slice(BASE.length) : path;
  return inside === "" ? "/" : inside;
}

export function navigate(path: string, replace = false): void {
  const url = BASE + path;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event("paas:navigate"));
  window.scrollTo(0, 0);
}

export function useRoute(): string {
  const [path, setPath] = useState(current());
  useEffect(() => {
    const update = () => setPath(current());
    window.addEventListener("popstate", update);
    window.addEventListener("paas:navigate", update);
    return () => {
      window.removeEventListener("popstate", update);
      window.removeEventListener("paas:navigate", update);
    };
  }, []);
  return path;
}

/** A click on an in-app link navigates without reloading (a modified click opens a tab). */
export function onLinkClick(event: MouseEvent, path: string): void {
  if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  navigate(path);
}
