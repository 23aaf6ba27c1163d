#!/usr/bin/env python3
"""redis-py writer for the Sentinel client tests and benchmarks.

Finds the master the way a redis-py application does, through
redis.sentinel.Sentinel(...).master_for(NAME), and writes unique keys in a loop
(SET <prefix>:<n> <n>), retrying a failed write like a real application would
(ConnectionError, which covers MasterNotFoundError and "The previous master is
now a slave" after a READONLY reply; TimeoutError; ReadOnlyError).

Prints one JSON object per line on stdout:
  {"ready": true, "version": "4.3.4"}          once, before the first write
  {"ack": "<key>", "t": <ms since epoch>}       for every acknowledged write
  {"err": "<Type: message>", "t": <ms>}         for every failed attempt
  {"done": true, "acked": N}                    at the end
It stops when its standard input is closed (or on SIGTERM/SIGINT).

Usage: redis_py_writer.py --sentinels host:port,host:port --name mymaster
                          --prefix KEYPREFIX [--interval-ms 15] [--timeout-ms 500]
       redis_py_writer.py --sentinels ... --name mymaster --prefix X --discover
         (one Sentinel.discover_master() call: prints {"master": "host:port"} or {"error": ...})
"""

import argparse
import json
import signal
import sys
import threading
import time

try:
    import redis
    from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
    from redis.sentinel import Sentinel
except ImportError as e:  # pragma: no cover - reported to the test
    print(json.dumps({"fatal": f"redis-py is not installed ({e}); install python3-redis"}), flush=True)
    sys.exit(3)

stop = threading.Event()


def watch_stdin():
    try:
        while sys.stdin.read(1024):
            pass
    except Exception:
        pass
    stop.set()


def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def now_ms():
    return time.time() * 1000.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sentinels", required=True)
    ap.add_argument("--name", default="mymaster")
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--interval-ms", type=float, default=15)
    ap.add_argument("--timeout-ms", type=float, default=500)
    ap.add_argument("--discover", action="store_true", help="print discover_master() once and exit")
    a = ap.parse_args()

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    threading.Thread(target=watch_stdin, daemon=True).start()

    addrs = []
    for s in a.sentinels.split(","):
        host, port = s.rsplit(":", 1)
        addrs.append((host, int(port)))
    timeout = a.timeout_ms / 1000.0
    # socket_* options apply to the sentinel connections too (redis-py copies them).
    sentinel = Sentinel(addrs, socket_timeout=timeout, socket_connect_timeout=timeout)
    if a.discover:
        try:
            host, port = sentinel.discover_master(a.name)
            emit({"master": f"{host}:{port}", "version": redis.__version__})
        except Exception as e:  # MasterNotFoundError, or anything a Sentinel made it raise
            emit({"error": f"{type(e).__name__}: {e}", "version": redis.__version__})
        return
    master = sentinel.master_for(a.name, socket_timeout=timeout, socket_connect_timeout=timeout)
    emit({"ready": True, "version": redis.__version__})

    n = 0
    acked = 0
    while not stop.is_set():
        key = f"{a.prefix}:{n}"
        try:
            master.set(key, str(n))
            emit({"ack": key, "t": now_ms()})
            acked += 1
            n += 1
            stop.wait(a.interval_ms / 1000.0)
        except (ConnectionError, TimeoutError, ReadOnlyError) as e:
            emit({"err": f"{type(e).__name__}: {e}", "t": now_ms()})
            stop.wait(0.05)
        except redis.exceptions.ResponseError as e:
            # Any other error reply (e.g. a Sentinel answering an error): report, retry.
            emit({"err": f"{type(e).__name__}: {e}", "t": now_ms()})
            stop.wait(0.05)
    emit({"done": True, "acked": acked})


if __name__ == "__main__":
    main()
