#!/usr/bin/env bash
# What the browser tests need: Debian's Chromium (/usr/bin/chromium, installed with apt-get when
# missing; playwright never downloads a browser) and playwright-core at the version pinned in
# tests/browser/package-lock.json (`npm ci` when tests/browser/node_modules is missing or older
# than the lock). Idempotent: a second run only looks at both and returns.
#
# Environment: PAAS_CHROMIUM  the browser to drive (default /usr/bin/chromium; when set, it is
#                             only checked, never installed)
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1

log() { printf '[setup-browser] %s\n' "$*" >&2; }

chromium=${PAAS_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  if [ -n "${PAAS_CHROMIUM:-}" ]; then
    log "PAAS_CHROMIUM=$chromium is not an executable"
    exit 1
  fi
  log "installing chromium"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=600 update -qq; \
         apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null; }
fi

dir=tests/browser
# npm ci writes node_modules/.package-lock.json: older than the lock means the pins moved.
if [ ! -f "$dir/node_modules/.package-lock.json" ] \
  || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  command -v npm >/dev/null || { log "npm is missing (apt-get install nodejs npm)"; exit 1; }
  log "installing playwright-core (npm ci in $dir)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi
