#!/usr/bin/env bash
# Installs what the demo or the tests need, on a Debian (or Ubuntu) machine that has Node.js 20+
# and root or sudo, then the npm packages. The README's Quick start runs it:
#
#   scripts/install-deps.sh demo   (npm run demo:fresh)   redis-server
#   scripts/install-deps.sh test   (npm run test:fresh)   redis-server redis-tools redis-sentinel
#                                  iproute2 iptables faketime procps python3-redis tcl dpkg-dev
#
# demo: scripts/demo.ts starts ./run-node.sh N, which needs redis-server (and bash, coreutils and
# node, which every Debian machine with Node.js has).
# test: redis-server and redis-sentinel (integration, e2e and the Sentinel reference runs),
# redis-tools (redis-cli, redis-benchmark), iproute2 and iptables (network-partition tests, as
# root), faketime (clock tests), procps, python3-redis (the redis-py client tests), tcl and
# dpkg-dev (test/compat/sentinel-suite: Redis's Tcl suite, fetched with `apt-get source`, which
# unpacks with dpkg-source).
#
# A package is installed only when it is missing (its program, or dpkg says it is not installed);
# `apt-get update` runs once, and only when something is missing. apt runs as root, through sudo
# when this script is not root. The distro's redis-server and redis-sentinel services are stopped
# when they run (the demo's node 1 uses Redis's and Sentinel's default ports 6379 and 26379; the
# tests start their own servers).
#
# `npm ci` runs only when node_modules is missing or older than package-lock.json: it deletes and
# reinstalls node_modules (network, tens of seconds), and nothing else can make node_modules
# differ from the lockfile. demo also rebuilds dist/ (what ./run-node.sh runs) when a file under
# src/ is newer than it, so the demo never runs stale code; the tests build dist/ themselves
# (test/support/build.ts).
set -euo pipefail

prog=install-deps
cd "$(dirname "${BASH_SOURCE[0]}")/.."

usage() { # [CODE]: 0 prints to stdout (--help), anything else to stderr
  {
    echo "usage: scripts/install-deps.sh demo|test"
    echo "  demo  what npm run demo needs: redis-server"
    echo "  test  what the whole test suite needs: redis-server redis-tools redis-sentinel iproute2"
    echo "        iptables faketime procps python3-redis tcl dpkg-dev"
  } >&"$([ "${1:-2}" -eq 0 ] && echo 1 || echo 2)"
  exit "${1:-2}"
}
die() {
  echo "$prog: $*" >&2
  exit 1
}
say() { echo "$prog: $*"; }

[ $# -eq 1 ] || usage
case "$1" in
  demo) packages=(redis-server) ;;
  test)
    packages=(redis-server redis-tools redis-sentinel iproute2 iptables faketime procps python3-redis tcl dpkg-dev)
    ;;
  -h | --help) usage 0 ;;
  *) usage ;;
esac
mode="$1"

# --- Node.js ------------------------------------------------------------------------------------
command -v node >/dev/null 2>&1 || die "node not found: install Node.js 20 or newer first"
command -v npm >/dev/null 2>&1 || die "npm not found: install Node.js 20 or newer (with npm) first"
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)' ||
  die "Node.js $(node --version) is too old: raftinel needs Node.js 20 or newer"

# --- system packages ----------------------------------------------------------------------------
as_root() { # COMMAND...: run it as root (directly, or through sudo)
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo "$@"
  fi
}
# A non-root PATH often lacks /usr/sbin and /sbin, where iptables lives.
have_bin() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]; }
dpkg_installed() {
  # shellcheck disable=SC2016 # ${...} is dpkg-query's format syntax
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}
present() { # PACKAGE: 0 when what the tests use from it is here (whoever installed it)
  case "$1" in
    redis-server) have_bin redis-server ;;
    redis-tools) have_bin redis-cli ;;
    redis-sentinel) have_bin redis-sentinel ;;
    iproute2) have_bin ip ;;
    iptables) have_bin iptables && have_bin iptables-restore ;;
    faketime) have_bin faketime ;;
    procps) have_bin pkill ;;
    # redis-py as the tests look for it: the PATH's python3 or Debian's /usr/bin/python3.
    python3-redis) { python3 -c 'import redis' || /usr/bin/python3 -c 'import redis'; } >/dev/null 2>&1 ;;
    tcl) have_bin tclsh ;;
    dpkg-dev) have_bin dpkg-source ;;
    *) dpkg_installed "$1" ;;
  esac
}

missing=()
for p in "${packages[@]}"; do
  present "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "$mode needs ${packages[*]}: all installed, nothing to install"
else
  command -v apt-get >/dev/null 2>&1 ||
    die "missing ${missing[*]}, and there is no apt-get here (this script knows Debian and Ubuntu): install them yourself"
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null 2>&1; then
    die "missing ${missing[*]}: installing them needs root; run this as root, or install sudo"
  fi
  say "installing ${missing[*]} (apt-get; $mode needs ${packages[*]})"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
  still=()
  for p in "${missing[@]}"; do
    present "$p" || still+=("$p")
  done
  [ ${#still[@]} -eq 0 ] || die "still missing after apt-get install: ${still[*]}"
  say "installed ${missing[*]}"
fi

# --- the distro's services ------------------------------------------------------------------------
for svc in redis-server redis-sentinel; do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl is-active --quiet "$svc" 2>/dev/null || continue
  else
    # No systemd: the package's init script, when something (not a Docker image's policy-rc.d)
    # let it start. Its pid file is readable without root.
    [ -x "/etc/init.d/$svc" ] || continue
    pidfile="/run/redis/redis-server.pid"
    [ "$svc" = redis-sentinel ] && pidfile="/run/sentinel/redis-sentinel.pid"
    pid="$(cat "$pidfile" 2>/dev/null || true)"
    [ -n "$pid" ] && [ -d "/proc/$pid" ] || continue
  fi
  say "stopping the distro's $svc service: the demo and the tests start their own servers (ports 6379 and 26379 must be free for the demo)"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl stop "$svc" || say "could not stop $svc; ports 6379/26379 may be taken"
  else
    as_root "/etc/init.d/$svc" stop >/dev/null || say "could not stop $svc; ports 6379/26379 may be taken"
  fi
done

# --- npm packages ---------------------------------------------------------------------------------
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci (node_modules is missing or older than package-lock.json)"
  npm ci
else
  say "node_modules is up to date with package-lock.json: no npm ci"
fi

# --- dist/ for the demo ---------------------------------------------------------------------------
if [ "$mode" = demo ]; then
  ref=dist/cli/main.js # what ./run-node.sh runs; dist/.build-stamp when the tests built it later
  [ dist/.build-stamp -nt "$ref" ] && ref=dist/.build-stamp
  if [ ! -f dist/cli/main.js ] || [ -n "$(find src tsconfig.json tsconfig.build.json -newer "$ref" -print -quit)" ]; then
    say "building dist/ (missing, or older than src/)"
    # tsc emits JavaScript even when it reports type errors; only a build without output stops here.
    if ! npm run build; then
      [ -f dist/cli/main.js ] || die "npm run build produced no dist/cli/main.js"
      say "tsc reported type errors (JavaScript was emitted anyway; npm run typecheck shows them)"
    fi
  fi
fi
