#!/bin/sh
# What the router bench needs besides the workspace: nginx (the yardstick) and wrk (the load).
# Debian/Ubuntu, as root. CI does not run benches, so nothing else depends on this.
set -eu
missing=""
command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
[ -z "$missing" ] && { echo "nginx and wrk are installed"; exit 0; }
apt-get update
# shellcheck disable=SC2086 # one word per package
apt-get install -y $missing
