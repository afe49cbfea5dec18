#!/usr/bin/env bash
# A real S3 engine for the tests and the bench: OpenStack Swift from Debian's packages, one node, one
# replica, its s3api and tempauth middleware, on ports of its own under a folder of its own.
#
#   tools/s3_engine.sh install          install the packages if missing (Swift, memcached and
#                                       HAProxy; root or sudo; apt-get)
#   tools/s3_engine.sh start DIR        start it; prints the endpoint, writes DIR/env (shell exports)
#   tools/s3_engine.sh stop DIR         stop what start started
#   tools/s3_engine.sh run -- CMD...    install, start in a temp folder, run CMD with the S3_TEST_*
#                                       and AWS_* variables set, stop; exits with CMD's status
set -euo pipefail

PACKAGES=(swift swift-proxy swift-account swift-container swift-object python3-swift memcached haproxy)
# Swift's programs run on Debian's python, whatever python3 comes first on PATH.
export PATH="/usr/bin:/bin:/usr/sbin:/sbin:$PATH"
ACCESS_KEY="backup:backup"
SECRET_KEY="backup-test-secret"
BUCKET="backups"

install_engine() {
  if [[ -x /usr/bin/swift-proxy-server && -x /usr/bin/memcached && -x /usr/sbin/haproxy ]] &&
    /usr/bin/python3 -c "import swift.common.middleware.s3api" 2>/dev/null; then
    return 0
  fi
  local sudo=()
  [[ $(id -u) -ne 0 ]] && sudo=(sudo)
  # The packages start their own services on install, on default ports: forbid it while they install.
  local forbade=false
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    forbade=true
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${PACKAGES[@]}" >/dev/null
  if $forbade; then "${sudo[@]}" rm -f /usr/sbin/policy-rc.d; fi
}

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

write_server_conf() { # kind port
  cat >"$DIR/etc/$1-server.conf" <<EOF
[DEFAULT]
user = $(id -un)
devices = $DIR/srv
mount_check = false
bind_ip = 127.0.0.1
bind_port = $2
workers = 0
swift_dir = $DIR/etc
log_address = $DIR/no-syslog
log_level = WARNING

[pipeline:main]
pipeline = $1-server

[app:$1-server]
use = egg:swift#$1
# Listings must show an object once its PUT is answered (as S3's do): wait for the container's
# update rather than queue it for an updater after 1 s.
container_update_timeout = 60
EOF
}

start_engine() {
  # Swift runs as whoever starts it (it would switch to the user "swift" otherwise).
  mkdir -p "$DIR/etc" "$DIR/srv/d1" "$DIR/run"
  local mc_port account_port container_port object_port proxy_port kind port
  mc_port=$(free_port)
  account_port=$(free_port)
  container_port=$(free_port)
  object_port=$(free_port)
  proxy_port=$(free_port)
  for kind in account container object; do
    port_var="${kind}_port"
    port=${!port_var}
    write_server_conf "$kind" "$port"
    swift-ring-builder "$DIR/etc/$kind.builder" create 6 1 1 >/dev/null
    swift-ring-builder "$DIR/etc/$kind.builder" add "r1z1-127.0.0.1:$port/d1" 1 >/dev/null
    swift-ring-builder "$DIR/etc/$kind.builder" rebalance >/dev/null
  done
  cat >"$DIR/etc/proxy-server.conf" <<EOF
[DEFAULT]
user = $(id -un)
bind_ip = 127.0.0.1
bind_port = $proxy_port
workers = 1
swift_dir = $DIR/etc
log_address = $DIR/no-syslog
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth bulk slo dlo proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_backup_backup = $SECRET_KEY .admin

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$mc_port

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
EOF
  memcached -u "$(id -un)" -l 127.0.0.1 -p "$mc_port" -U 0 -m 32 >"$DIR/memcached.log" 2>&1 &
  echo $! >"$DIR/run/memcached.pid"
  for kind in account container object proxy; do
    "swift-$kind-server" "$DIR/etc/$kind-server.conf" >"$DIR/$kind.log" 2>&1 &
    echo $! >"$DIR/run/$kind.pid"
  done
  local endpoint="http://127.0.0.1:$proxy_port"
  # Ready once the proxy answers its health check and a signed bucket creation succeeds.
  local tries=0
  until curl -fsS "$endpoint/healthcheck" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [[ $tries -gt 300 ]]; then
      echo "s3 engine: the proxy did not answer in 30 s; logs in $DIR" >&2
      tail -n 20 "$DIR"/*.log >&2 || true
      return 1
    fi
    sleep 0.1
  done
  cat >"$DIR/env" <<EOF
export S3_TEST_ENDPOINT=$endpoint
export S3_TEST_BUCKET=$BUCKET
export S3_TEST_REGION=us-east-1
export AWS_ACCESS_KEY_ID=$ACCESS_KEY
export AWS_SECRET_ACCESS_KEY=$SECRET_KEY
EOF
  echo "$endpoint"
}

stop_engine() {
  local pidfile
  for pidfile in "$DIR"/run/*.pid; do
    [[ -e $pidfile ]] || continue
    kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  for pidfile in "$DIR"/run/*.pid; do
    [[ -e $pidfile ]] || continue
    local pid tries=0
    pid=$(cat "$pidfile")
    while kill -0 "$pid" 2>/dev/null && [[ $tries -lt 100 ]]; do
      sleep 0.1
      tries=$((tries + 1))
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
}

case "${1:-}" in
install) install_engine ;;
start)
  DIR=$(realpath -m "${2:?usage: s3_engine.sh start DIR}")
  start_engine
  ;;
stop)
  DIR=$(realpath -m "${2:?usage: s3_engine.sh stop DIR}")
  stop_engine
  ;;
run)
  shift
  [[ ${1:-} == "--" ]] && shift
  install_engine
  DIR=$(mktemp -d /tmp/s3-engine.XXXXXX)
  trap 'stop_engine; rm -rf "$DIR"' EXIT
  start_engine >/dev/null
  # shellcheck disable=SC1091
  source "$DIR/env"
  set +e
  "$@"
  status=$?
  set -e
  exit "$status"
  ;;
*)
  sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
  ;;
esac
