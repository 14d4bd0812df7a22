#!/usr/bin/env bash
# A local image registry for tests (Debian's docker-registry, the CNCF distribution registry):
# installs it when missing and serves it on 127.0.0.1:5000 over plain HTTP, without auth, storing
# under /var/lib/paas-registry. Idempotent: a second run only checks that it answers.
#
# Environment: PAAS_TEST_REGISTRY  host:port to serve on (default 127.0.0.1:5000)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

ADDR=${PAAS_TEST_REGISTRY:-127.0.0.1:5000}
DIR=/run/paas
CONFIG=/etc/paas/registry.yml
LOG=$DIR/registry.log

log() { printf '[setup-registry] %s\n' "$*" >&2; }

if curl -sf "http://$ADDR/v2/" >/dev/null 2>&1; then
  exit 0
fi
if ! command -v docker-registry >/dev/null; then
  log "installing docker-registry"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker-registry >/dev/null \
    || { apt-get -o DPkg::Lock::Timeout=600 update -qq; \
         apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends docker-registry >/dev/null; }
fi
mkdir -p "$(dirname "$CONFIG")" "$DIR" /var/lib/paas-registry
cat > "$CONFIG" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: /var/lib/paas-registry
  delete:
    enabled: true
http:
  addr: $ADDR
YAML
log "serving on http://$ADDR (log $LOG)"
nohup docker-registry serve "$CONFIG" >"$LOG" 2>&1 &
for _ in $(seq 100); do
  curl -sf "http://$ADDR/v2/" >/dev/null 2>&1 && exit 0
  sleep 0.1
done
log "ERROR: the registry did not answer; see $LOG"
tail -20 "$LOG" >&2 || true
exit 1
