#!/usr/bin/env bash
# Sets up Podman for paas on Debian 12 (bookworm), as root, unattended and idempotent:
#   1. installs podman (4.3.1) + runc + conmon + netavark + aardvark-dns + iptables + catatonit +
#      busybox-static with apt-get (only what is missing);
#   2. writes /etc/containers/containers.conf (runc, cgroupfs, file events logger, lowered ulimits,
#      netavark);
#   3. builds two base images without any registry:
#        localhost/busybox:latest      busybox-static rootfs + `podman import`
#        localhost/paas-python:latest  python3 (minimal + stdlib) from Debian .debs, extracted with
#                                      dpkg-deb onto a busybox rootfs, precompiled, `podman import`ed
#   4. starts the libpod REST API on a unix socket in the background and waits until it answers.
# A second run does nothing but checks (~0.1 s).
#
# Environment:
#   PODMAN_SOCKET      API socket path           (default /run/paas/podman.sock)
#   PAAS_PODMAN_CACHE  rootfs tars / .deb cache  (default /var/cache/paas-podman)
#   PAAS_PODMAN_REBUILD=1  rebuild both base images even if they exist
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

SOCK=${PODMAN_SOCKET:-/run/paas/podman.sock}
CACHE=${PAAS_PODMAN_CACHE:-/var/cache/paas-podman}
API_VERSION=v4.3.1
SOCK_DIR=$(dirname "$SOCK")
LOG="$SOCK_DIR/podman-service.log"
PIDFILE="$SOCK_DIR/podman-service.pid"
# The service's working directory, which conmon inherits. conmon before 2.1.13 (Debian 12 has
# 2.1.6) creates an empty file `oom` in its working directory on every out-of-memory kill; started
# from a checkout (scripts/test and .ci/run cd to the repository), that file lands in it.
SERVICE_DIR="$SOCK_DIR/podman-service.d"

log() { printf '[setup-podman] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (podman runs rootful for paas)"
command -v apt-get >/dev/null || die "needs a Debian/Ubuntu system with apt-get (Debian 12 tested)"
mkdir -p "$CACHE" "$SOCK_DIR"

APT_UPDATED=0
apt_update_once() {
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    APT_UPDATED=1
  fi
}

# ---------------------------------------------------------------- 1. packages
PKGS=(podman runc conmon netavark aardvark-dns iptables catatonit busybox-static
      slirp4netns fuse-overlayfs uidmap curl ca-certificates)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  apt_update_once
  log "installing: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
[ -x /bin/busybox ] || die "/bin/busybox missing after installing busybox-static"

# ---------------------------------------------------------------- 2. configuration
# - runtime runc: crun 1.8 (Debian 12) rejects cgroup v1 "hybrid" hosts; runc works everywhere.
# - cgroupfs + file events logger: no systemd/journald needed (containers, CI, WSL).
# - lowered default ulimits: Podman's defaults (nofile 1048576) fail with
#   "setrlimit ... operation not permitted" when the host's hard limits are lower; these values
#   fit common hosts and also apply to containers created through the API.
mkdir -p /etc/containers
CONF_WANTED='# Written by paas scripts/setup-podman.sh
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"

[network]
network_backend = "netavark"'
CONF_CHANGED=0
if [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$CONF_WANTED" ]; then
  [ -f /etc/containers/containers.conf ] && cp /etc/containers/containers.conf /etc/containers/containers.conf.paas-bak
  printf '%s\n' "$CONF_WANTED" > /etc/containers/containers.conf
  CONF_CHANGED=1
  log "wrote /etc/containers/containers.conf"
fi
# Leftover CNI config only produces warnings: netavark is the backend.
rm -f /etc/cni/net.d/87-podman-bridge.conflist

# ---------------------------------------------------------------- 3a. busybox base image
# After a rebuild, removes the previous (now untagged) image unless a container still uses it.
drop_old_image() {
  local old=$1 ref=$2 new
  [ -n "$old" ] || return 0
  new=$(podman image inspect --format '{{.Id}}' "$ref" 2>/dev/null || true)
  [ "$old" = "$new" ] || podman rmi "$old" >/dev/null 2>&1 || true
}

# Makes a rootfs dir with busybox applets in /bin, /etc/passwd, /tmp.
make_busybox_root() {
  local r=$1 a
  mkdir -p "$r"/{bin,etc,tmp,root,www}
  chmod 1777 "$r/tmp"
  cp /bin/busybox "$r/bin/busybox"
  for a in $("$r/bin/busybox" --list); do
    [ "$a" = busybox ] || [ -e "$r/bin/$a" ] || ln -s busybox "$r/bin/$a"
  done
  [ -f "$r/etc/passwd" ] || printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' > "$r/etc/passwd"
  [ -f "$r/etc/group" ]  || printf 'root:x:0:\nnogroup:x:65534:\n' > "$r/etc/group"
}

if [ "${PAAS_PODMAN_REBUILD:-0}" = 1 ] || ! podman image exists localhost/busybox:latest; then
  log "building localhost/busybox:latest"
  R=$(mktemp -d)
  make_busybox_root "$R"
  echo ok > "$R/www/index.html"
  tar --numeric-owner -C "$R" -cf "$CACHE/busybox-rootfs.tar" .
  rm -rf "$R"
  old=$(podman image inspect --format '{{.Id}}' localhost/busybox:latest 2>/dev/null || true)
  podman import -q --change 'CMD ["/bin/sh"]' --change 'ENV PATH=/bin' \
    "$CACHE/busybox-rootfs.tar" localhost/busybox:latest >/dev/null
  drop_old_image "$old" localhost/busybox:latest
fi

# ---------------------------------------------------------------- 3b. python base image
# python3-minimal + the standard library (libpython3-stdlib) and their shared-library closure,
# taken from Debian packages (apt-get download; no registry), unpacked with dpkg-deb -x (no
# maintainer scripts) onto a busybox rootfs. Packages that only matter to dpkg/perl tooling are
# skipped. Result: ~60 MB image, python3 on PATH, unbuffered output.
PY_TAR="$CACHE/paas-python-rootfs.tar"
if [ "${PAAS_PODMAN_REBUILD:-0}" = 1 ] || ! podman image exists localhost/paas-python:latest; then
  if [ "${PAAS_PODMAN_REBUILD:-0}" = 1 ] || [ ! -s "$PY_TAR" ]; then
    log "building python rootfs from Debian packages"
    apt-cache show python3-minimal >/dev/null 2>&1 || apt_update_once
    SKIP=" dpkg perl perl-base perl-modules-5.36 libperl5.36 install-info tar debconf mailcap mime-support tzdata "
    # Breadth-first dependency closure, one apt-cache call per level (each call costs ~0.5 s).
    declare -A seen=()
    level=(python3-minimal libpython3-stdlib)
    while [ "${#level[@]}" -gt 0 ]; do
      todo=()
      for p in "${level[@]}"; do
        [ -n "${seen[$p]:-}" ] && continue
        case "$SKIP" in *" $p "*) continue ;; esac
        seen[$p]=1; todo+=("$p")
      done
      [ "${#todo[@]}" -gt 0 ] || break
      mapfile -t level < <(apt-cache depends --no-recommends --no-suggests --no-conflicts \
          --no-breaks --no-replaces --no-enhances "${todo[@]}" 2>/dev/null \
        | sed -n -E 's/^ *\|?(Pre)?Depends: ([^<][^ ]*).*$/\2/p' | sed 's/:any$//' | sort -u)
    done
    DEBS="$CACHE/python-debs"
    rm -rf "$DEBS"; mkdir -p "$DEBS"
    # apt-get download runs as _apt when it can: give it a writable dir.
    chown _apt "$DEBS" 2>/dev/null || true
    if ! (cd "$DEBS" && apt-get download -qq "${!seen[@]}" >/dev/null 2>&1); then
      apt_update_once   # stale lists: the versions they name may be gone from the mirror
      (cd "$DEBS" && apt-get download -qq "${!seen[@]}" >/dev/null)
    fi
    R=$(mktemp -d)
    for deb in "$DEBS"/*.deb; do dpkg-deb -x "$deb" "$R"; done
    make_busybox_root "$R"
    # Trim what a runtime does not need.
    rm -rf "$R"/usr/share/{doc,man,info,lintian,locale,bug} "$R"/usr/lib/python3*/{ensurepip,idlelib,turtledemo,tkinter,lib2to3/tests}
    PYBIN=$(cd "$R/usr/bin" && ls python3.[0-9]* | grep -E '^python3\.[0-9]+$' | sort -V | tail -1)
    [ -e "$R/usr/bin/python3" ] || ln -s "$PYBIN" "$R/usr/bin/python3"
    printf 'hosts: files dns\n' > "$R/etc/nsswitch.conf"
    # CA bundle from the host so urllib/ssl can verify HTTPS (SSL_CERT_FILE below).
    if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
      mkdir -p "$R/etc/ssl/certs" && cp /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"
    fi
    # Precompile the stdlib (.deb files ship no .pyc): faster container start.
    chroot "$R" /usr/bin/python3 -m compileall -q "/usr/lib/${PYBIN}" >/dev/null 2>&1 || true
    chroot "$R" /usr/bin/python3 -c 'import http.server, json, urllib.request, sqlite3, ssl' \
      || die "python rootfs is incomplete"
    tar --numeric-owner -C "$R" -cf "$PY_TAR.tmp" .
    mv "$PY_TAR.tmp" "$PY_TAR"
    rm -rf "$R"
  fi
  log "importing localhost/paas-python:latest"
  old=$(podman image inspect --format '{{.Id}}' localhost/paas-python:latest 2>/dev/null || true)
  podman import -q \
    --change 'CMD ["python3"]' \
    --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV PYTHONUNBUFFERED=1' \
    --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    "$PY_TAR" localhost/paas-python:latest >/dev/null
  drop_old_image "$old" localhost/paas-python:latest
fi

# ---------------------------------------------------------------- 4. API service
ping_api() { curl -sf --max-time 2 --unix-socket "$SOCK" "http://d/$API_VERSION/libpod/_ping" >/dev/null 2>&1; }

if [ "$CONF_CHANGED" = 1 ] && [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
  log "containers.conf changed: restarting the API service (pid $(cat "$PIDFILE"))"
  kill "$(cat "$PIDFILE")" || true
  for _ in $(seq 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
fi

# A service started elsewhere (by an earlier version of this script) would keep writing `oom`
# files there: it is started again from its own directory.
if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null \
  && [ "$(readlink "/proc/$(cat "$PIDFILE")/cwd" 2>/dev/null)" != "$(readlink -f "$SERVICE_DIR")" ]; then
  log "the API service (pid $(cat "$PIDFILE")) runs outside $SERVICE_DIR: restarting it"
  kill "$(cat "$PIDFILE")" || true
  for _ in $(seq 50); do kill -0 "$(cat "$PIDFILE")" 2>/dev/null || break; sleep 0.1; done
fi

if ! ping_api; then
  log "starting podman API service on $SOCK (log $LOG)"
  rm -f "$SOCK"
  mkdir -p "$SERVICE_DIR"
  # setsid + nohup: the service outlives this script and its terminal.
  (cd "$SERVICE_DIR" && exec setsid nohup podman system service --time=0 "unix://$SOCK" \
    >"$LOG" 2>&1 </dev/null) &
  echo $! > "$PIDFILE"
  for _ in $(seq 100); do ping_api && break; sleep 0.1; done
  ping_api || { tail -n 20 "$LOG" >&2 || true; die "podman API did not answer on $SOCK"; }
fi
chmod 0660 "$SOCK" 2>/dev/null || true

echo "$SOCK"
