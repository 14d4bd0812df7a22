#!/usr/bin/env bash
# Sets up what the tests use on Debian 12 (bookworm), unattended and idempotent: the commands
# they run (git, python3, npm, curl, bubblewrap, redis-server for private Redis servers, chromium
# for the playground page, aiosmtpd as the SMTP server of the notification tests) and these
# services:
#   PostgreSQL 127.0.0.1:5432  user postgres, trust auth from 127.0.0.1 and ::1
#   Redis      127.0.0.1:6379  no persistence (no RDB snapshots, no AOF)
#   MariaDB    127.0.0.1:3306  user root without password (add-ons' databases)
# A service that already answers on its port is left exactly as it is (not restarted, not
# reconfigured): a second run does nothing but checks (~0.03 s). One that does not answer is
# installed with apt-get if missing (as root, like a missing command), configured as above,
# started without systemd (machines and containers without systemd as PID 1: pg_ctlcluster,
# mysqld_safe, redis-server --daemonize), then waited for with a deadline.
#
# Environment:
#   PAAS_TEST_POSTGRES  set: the tests use that PostgreSQL, this script leaves PostgreSQL alone
#   PAAS_TEST_REDIS     set: the tests use that Redis, likewise
#   PAAS_SERVICES       which to set up (default "postgres redis mariadb")
#   PAAS_SERVICES_WAIT  seconds to wait for a started service (default 60)
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

WAIT=${PAAS_SERVICES_WAIT:-60}
SERVICES=${PAAS_SERVICES:-postgres redis mariadb}

log() { printf '[setup-services] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Something accepts TCP connections on 127.0.0.1:$1 (bash's /dev/tcp: no client tool needed).
listening() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Polls `$@` until it succeeds or $WAIT seconds have passed.
wait_for() {
  local what=$1 deadline=$((SECONDS + WAIT))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || die "$what did not answer within ${WAIT}s"
    sleep 0.2
  done
}

need_root() {
  [ "$(id -u)" = 0 ] || die "$1 does not answer on 127.0.0.1: run this script as root to set it up"
  command -v apt-get >/dev/null || die "needs a Debian/Ubuntu system with apt-get (Debian 12 tested)"
}

APT_UPDATED=0
# Installs the packages of "$@" that are not installed.
apt_install() {
  local p missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    APT_UPDATED=1
  fi
  log "installing: ${missing[*]}"
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# ---------------------------------------------------------------- commands
# "command:package" pairs; the packages of the missing commands are installed.
TOOLS=(git:git python3:python3 npm:npm curl:curl bwrap:bubblewrap redis-server:redis-server
       chromium:chromium aiosmtpd:python3-aiosmtpd)
setup_tools() {
  local t missing=()
  for t in "${TOOLS[@]}"; do
    command -v "${t%%:*}" >/dev/null || missing+=("${t#*:}")
  done
  [ "${#missing[@]}" -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || die "missing: ${missing[*]}: run this script as root to install them"
  apt_install "${missing[@]}"
}

# ---------------------------------------------------------------- PostgreSQL
# Debian's postgresql-NN postinst creates the cluster NN/main on the first free port (5432 on a
# machine without one) unless /etc/postgresql-common/createcluster.conf says otherwise;
# pg_lsclusters lists "version cluster port status owner datadir logfile".
setup_postgres() {
  if [ -n "${PAAS_TEST_POSTGRES:-}" ] || listening 5432; then return 0; fi
  need_root PostgreSQL
  apt_install postgresql
  local version cluster
  read -r version cluster < <(pg_lsclusters -h | awk '$3 == 5432 { print $1, $2; exit }') || true
  if [ -z "${version:-}" ]; then
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
    cluster=main
    log "creating the PostgreSQL cluster $version/$cluster on port 5432"
    pg_createcluster -p 5432 "$version" "$cluster" >/dev/null
  fi
  # First matching line wins: trust from the loopback addresses, before Debian's scram lines.
  local hba="/etc/postgresql/$version/$cluster/pg_hba.conf"
  if ! grep -q '^# paas tests: trust' "$hba"; then
    log "trusting 127.0.0.1 and ::1 in $hba"
    { printf '# paas tests: trust (scripts/setup-services.sh)\n'
      printf 'host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\n'
      cat "$hba"; } > "$hba.paas" && mv "$hba.paas" "$hba"
    chown postgres:postgres "$hba" && chmod 0640 "$hba"
  fi
  # --skip-systemctl-redirect: the postmaster itself, never systemd. Where no policy-rc.d
  # stops it, the package's postinst may have started the cluster already: it reloads then.
  if listening 5432; then
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" reload
  else
    log "starting PostgreSQL $version/$cluster"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$cluster" start
  fi
  wait_for PostgreSQL pg_isready -h 127.0.0.1 -p 5432 -q
}

# ---------------------------------------------------------------- Redis
setup_redis() {
  if [ -n "${PAAS_TEST_REDIS:-}" ] || listening 6379; then return 0; fi
  need_root Redis
  apt_install redis-server redis-tools
  # The package's user, dirs and log dir (it creates them); run as redis like its init script.
  local as=() pidfile=/var/lib/redis/redis-server.pid
  id redis >/dev/null 2>&1 && as=(runuser -u redis --)
  if listening 6379; then
    # Started by the package's postinst with /etc/redis/redis.conf, which snapshots to disk.
    log "Redis runs: turning its persistence off"
    redis-cli -h 127.0.0.1 -p 6379 config set save '' >/dev/null
    redis-cli -h 127.0.0.1 -p 6379 config set appendonly no >/dev/null
  else
    log "starting Redis on 127.0.0.1:6379 without persistence"
    "${as[@]}" redis-server --bind 127.0.0.1 --port 6379 --daemonize yes \
      --save '' --appendonly no --dir /var/lib/redis \
      --pidfile "$pidfile" --logfile /var/log/redis/redis-server.log
  fi
  wait_for Redis redis-cli -h 127.0.0.1 -p 6379 ping
}

# ---------------------------------------------------------------- MariaDB
# Debian's mariadb-server: /etc/mysql/mariadb.conf.d/50-server.cnf binds 127.0.0.1 on 3306,
# socket /run/mysqld/mysqld.sock, datadir /var/lib/mysql (initialised by the postinst with
# mysql_install_db; root@localhost authenticates through unix_socket).
setup_mariadb() {
  if listening 3306; then return 0; fi
  need_root MariaDB
  apt_install mariadb-server mariadb-client
  if [ ! -d /var/lib/mysql/mysql ]; then
    log "initialising /var/lib/mysql"
    TMPDIR='' mariadb-install-db --user=mysql --datadir=/var/lib/mysql --skip-test-db >/dev/null
  fi
  # The package's postinst may have started it already (where no policy-rc.d stops it).
  if ! listening 3306; then
    install -d -o mysql -g mysql -m 0755 /run/mysqld
    log "starting MariaDB"
    # mysqld_safe stays in the foreground (it restarts mariadbd if it dies): detach it, as the
    # package's init script does.
    (setsid nohup mysqld_safe --user=mysql >/dev/null 2>&1 </dev/null &)
  fi
  wait_for MariaDB mariadb-admin --protocol=socket -uroot ping
  # As root over the socket (unix_socket auth): root without password from localhost and over
  # TCP from 127.0.0.1, as the tests connect.
  mariadb --protocol=socket -uroot <<'SQL'
ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('') OR unix_socket;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  wait_for "MariaDB on 127.0.0.1:3306" mariadb -h 127.0.0.1 -P 3306 -uroot -e 'SELECT 1'
}

setup_tools
for service in $SERVICES; do
  case "$service" in
    postgres | redis | mariadb) "setup_$service" ;;
    *) die "unknown service '$service' in PAAS_SERVICES (postgres, redis, mariadb)" ;;
  esac
done
