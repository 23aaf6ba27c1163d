#!/usr/bin/env bash
# Container entrypoint: one Redis and its raftinel daemon in one container.
#
# Starts redis-server (data and config in $RAFTINEL_HOME/redis), waits until it answers, then runs
# `raftinel start -c $RAFTINEL_CONFIG`. `docker stop` (SIGTERM) stops the daemon first (a leader
# hands leadership over), then Redis (which saves its data). If the daemon exits by itself, Redis
# is stopped too and the container exits with the daemon's exit code (see docs/OPERATIONS.md).
#
#   RAFTINEL_CONFIG  the daemon's config (default /etc/raftinel/node.toml, mounted by docker-compose.yml)
#   RAFTINEL_HOME    data root (default /var/lib/raftinel, a volume)
#   REDIS_PORT       the port of this container's Redis (default 6379)
# Any arguments are passed to `raftinel start` (e.g. --log-level debug).
set -euo pipefail

config="${RAFTINEL_CONFIG:-/etc/raftinel/node.toml}"
home="${RAFTINEL_HOME:-/var/lib/raftinel}"
redis_port="${REDIS_PORT:-6379}"
redis_dir="$home/redis"

[ -r "$config" ] || {
  echo "entrypoint: no config at $config: mount one there (see docker-compose.yml) or set RAFTINEL_CONFIG" >&2
  exit 2
}
mkdir -p "$redis_dir"
if [ ! -f "$redis_dir/redis.conf" ]; then
  # Written once; Redis may rewrite it (CONFIG REWRITE, e.g. when raftinel makes it a replica).
  cat >"$redis_dir/redis.conf" <<CONF
# Redis of this raftinel container, written once by the entrypoint; Redis may rewrite it.
# Reachable on the compose network only: never publish this port.
port $redis_port
bind 0.0.0.0
protected-mode no
dir $redis_dir
CONF
fi

redis-server "$redis_dir/redis.conf" --port "$redis_port" --bind 0.0.0.0 --protected-mode no \
  --dir "$redis_dir" --daemonize no &
redis_pid=$!
for _ in $(seq 1 100); do
  [ "$(redis-cli -p "$redis_port" ping 2>/dev/null || true)" = PONG ] && break
  kill -0 "$redis_pid" 2>/dev/null || {
    echo "entrypoint: redis-server exited while starting" >&2
    exit 1
  }
  sleep 0.1
done

raftinel start -c "$config" "$@" &
daemon_pid=$!
trap 'kill -TERM "$daemon_pid" 2>/dev/null || true' TERM INT
status=0
while :; do
  wait "$daemon_pid" && status=0 || status=$?
  kill -0 "$daemon_pid" 2>/dev/null || break # a trapped signal interrupted wait: wait again
done
trap - TERM INT
kill -TERM "$redis_pid" 2>/dev/null || true
wait "$redis_pid" || true
exit "$status"
