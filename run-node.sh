#!/usr/bin/env bash
# Starts node N of a local raftinel group together with its own redis-server:
#
#   ./run-node.sh N        (N = 1, 2, 3, ...)
#
# Node 1 bootstraps a new group (single); node N > 1 joins it through nodes 1..N-1 (node 1 first).
# Node N uses Redis port 6379+N-1, Sentinel port 26379+N-1, Raft port 27379+N-1 and admin port
# 28379+N-1. Its files live in ./data/nodeN: node.toml (generated at every start), raft/ (the
# daemon's data_dir) and redis/ (the Redis config, data and log). A restart resumes from there.
#
# The redis-server runs in the background; the daemon then replaces this script (exec) and logs
# to stdout, so this script's pid is the daemon's. When the daemon exits, for whatever reason
# (Ctrl-C, kill, a crash), the redis-server started here is shut down too.
#
# Environment overrides (for tests, or a second group on the same machine):
#   RAFTINEL_DATA                 data root instead of <repo>/data (relative to the working directory)
#   RAFTINEL_REDIS_PORT_BASE      Redis port of node 1 (default 6379)
#   RAFTINEL_SENTINEL_PORT_BASE   Sentinel port of node 1 (default 26379)
#   RAFTINEL_RAFT_PORT_BASE       Raft port of node 1 (default 27379)
#   RAFTINEL_ADMIN_PORT_BASE      admin port of node 1 (default 28379)
#   RAFTINEL_LOG_LEVEL            the daemon's log_level (default info)
set -euo pipefail

prog=run-node.sh
die() {
  echo "$prog: $*" >&2
  exit 1
}
usage() {
  echo "usage: ./run-node.sh N    (N = 1, 2, 3, ...: the node id; node 1 bootstraps, the others join it)" >&2
  exit 2
}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# --- arguments ------------------------------------------------------------------------------------
[ $# -eq 1 ] || usage
case "$1" in -h | --help) usage ;; esac
n="$1"
if ! [[ "$n" =~ ^[1-9][0-9]{0,5}$ ]]; then
  echo "$prog: N must be a positive integer (the node id), got \"$n\"" >&2
  usage
fi

port_base() { # NAME DEFAULT: a port base from the environment, checked
  local name="$1" value="${!1:-$2}"
  if ! [[ "$value" =~ ^[1-9][0-9]{0,4}$ ]] || [ "$value" -gt 65535 ]; then
    die "$name must be a port number, got \"$value\""
  fi
  echo "$value"
}
redis_base="$(port_base RAFTINEL_REDIS_PORT_BASE 6379)"
sentinel_base="$(port_base RAFTINEL_SENTINEL_PORT_BASE 26379)"
raft_base="$(port_base RAFTINEL_RAFT_PORT_BASE 27379)"
admin_base="$(port_base RAFTINEL_ADMIN_PORT_BASE 28379)"
redis_port=$((redis_base + n - 1))
sentinel_port=$((sentinel_base + n - 1))
raft_port=$((raft_base + n - 1))
admin_port=$((admin_base + n - 1))
for p in "$redis_port" "$sentinel_port" "$raft_port" "$admin_port"; do
  [ "$p" -le 65535 ] || die "node $n would need port $p, above 65535: use a smaller N or lower port bases"
done
log_level="${RAFTINEL_LOG_LEVEL:-info}"

data_root="${RAFTINEL_DATA:-$repo/data}"
mkdir -p "$data_root" || die "cannot create the data directory $data_root"
data_root="$(cd "$data_root" && pwd)"
node_dir="$data_root/node$n"
redis_dir="$node_dir/redis"
config="$node_dir/node.toml"

# --- prerequisites --------------------------------------------------------------------------------
command -v redis-server >/dev/null 2>&1 ||
  die "redis-server not found: install redis-server: apt-get install redis-server"
command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20 or newer"
raftinel="$repo/bin/raftinel"
if [ ! -f "$repo/dist/cli/main.js" ] || [ ! -d "$repo/node_modules" ]; then
  die "$raftinel is not built: run npm ci first (in $repo)"
fi

cat <<EOF
raftinel node $n
  Redis     127.0.0.1:$redis_port
  Sentinel  127.0.0.1:$sentinel_port   (redis-cli -p $sentinel_port SENTINEL get-master-addr-by-name mymaster)
  Raft      127.0.0.1:$raft_port
  admin     127.0.0.1:$admin_port   ($raftinel status --admin 127.0.0.1:$admin_port)
  data      $node_dir
EOF

# --- ports ------------------------------------------------------------------------------------------
# Binding is the only reliable test: a port may be taken by a listener on another address.
# shellcheck disable=SC2016 # the ${...} below are JavaScript's
taken="$(
  node -e '
    const net = require("node:net");
    const names = ["Redis", "Sentinel", "Raft", "admin"];
    const ports = process.argv.slice(1).map(Number);
    const check = (port) => new Promise((resolve) => {
      const s = net.createServer();
      s.once("error", (e) => resolve(e.code === "EADDRINUSE" || e.code === "EACCES"));
      s.listen(port, "127.0.0.1", () => s.close(() => resolve(false)));
    });
    (async () => {
      for (let i = 0; i < ports.length; i++)
        if (await check(ports[i])) console.log(`${names[i]} port ${ports[i]}`);
    })();
  ' "$redis_port" "$sentinel_port" "$raft_port" "$admin_port"
)"
if [ -n "$taken" ]; then
  {
    echo "$prog: cannot start node $n: already in use:"
    while IFS= read -r line; do echo "  $line"; done <<<"$taken"
    echo "Is node $n already running? A redis-server left over by an earlier run can be stopped with"
    echo "  kill \$(cat $redis_dir/redis.pid)"
    echo "To run another group beside it, set RAFTINEL_*_PORT_BASE (see the top of run-node.sh)."
  } >&2
  exit 1
fi

# --- files --------------------------------------------------------------------------------------------
mkdir -p "$node_dir/raft" "$redis_dir"

if [ "$n" -eq 1 ]; then
  bootstrap='single = true                     # bootstrap a new group (ignored once raft/ holds state)'
else
  joins="\"127.0.0.1:$raft_base\""
  for ((i = 2; i < n; i++)); do joins="$joins, \"127.0.0.1:$((raft_base + i - 1))\""; done
  bootstrap="join = [$joins]   # join the group through these members (ignored once raft/ holds state)"
fi
cat >"$config" <<EOF
# raftinel node $n, generated by run-node.sh at every start: edits here are overwritten.
# Reference: docs/CONFIGURATION.md. Start it by hand with: bin/raftinel start -c $config
node_id = $n
data_dir = "raft"                 # relative to this file: $node_dir/raft
log_level = "$log_level"

[raft]
listen = "127.0.0.1:$raft_port"
$bootstrap

[sentinel]
listen = "127.0.0.1:$sentinel_port"

[admin]
listen = "127.0.0.1:$admin_port"

[[redis]]
shard = "mymaster"
addr = "127.0.0.1:$redis_port"
EOF

redis_conf="$redis_dir/redis.conf"
if [ ! -f "$redis_conf" ]; then
  # Written once: Redis rewrites it itself (CONFIG REWRITE, e.g. after raftinel makes it a
  # replica), so it is never overwritten here. Persistence is Redis's default (RDB snapshots).
  cat >"$redis_conf" <<EOF
# Redis of raftinel node $n, written by run-node.sh once; Redis may rewrite it (CONFIG REWRITE).
# run-node.sh passes --port, --dir, --pidfile, --logfile and --daemonize on the command line.
bind 127.0.0.1
port $redis_port
dir $redis_dir
EOF
fi

# --- redis-server -------------------------------------------------------------------------------------
redis_pidfile="$redis_dir/redis.pid"
redis_log="$redis_dir/redis.log"
rm -f "$redis_pidfile"

redis_pid() { if [ -s "$redis_pidfile" ]; then cat "$redis_pidfile" 2>/dev/null || true; fi; }
alive() { # PID: 0 while the process runs (an exited one that nobody reaped yet does not count)
  kill -0 "$1" 2>/dev/null || return 1
  local stat=""
  [ -r "/proc/$1/stat" ] && stat="$(cat "/proc/$1/stat" 2>/dev/null || true)"
  [[ "$stat" != *") Z "* ]]
}
stop_redis() { # stop the redis-server started here (SIGTERM: it saves and exits), wait up to 10 s
  local pid
  pid="$(redis_pid)"
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 100); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}
trap 'stop_redis' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

redis-server "$redis_conf" --port "$redis_port" --bind 127.0.0.1 --dir "$redis_dir" \
  --daemonize yes --pidfile "$redis_pidfile" --logfile "$redis_log" >/dev/null ||
  die "redis-server failed to start; see $redis_log"

redis_ping() { # 0 when Redis answers PING on its port
  (
    exec 3<>"/dev/tcp/127.0.0.1/$redis_port" || exit 1
    printf 'PING\r\n' >&3
    reply=""
    IFS= read -r -t 1 reply <&3 || true
    [[ "$reply" == "+PONG"* ]]
  )
}
ready=0
for _ in $(seq 1 100); do
  if redis_ping 2>/dev/null; then
    ready=1
    break
  fi
  sleep 0.1
done
if [ "$ready" -ne 1 ]; then
  echo "$prog: redis-server did not answer on port $redis_port within 10 s; the end of $redis_log:" >&2
  tail -n 15 "$redis_log" >&2 || true
  exit 1
fi
echo "redis-server pid $(redis_pid), log $redis_log"

# --- the daemon ----------------------------------------------------------------------------------------
# A watchdog outlives the exec below: once the daemon (this pid) has exited, it stops Redis.
self=$$
(
  trap '' INT TERM HUP
  while alive "$self"; do sleep 0.5; done
  stop_redis
) </dev/null >/dev/null 2>&1 &
trap - EXIT INT TERM
echo "raftinel daemon pid $self (logs below; Ctrl-C stops it and its redis-server)"
exec "$raftinel" start -c "$config"
