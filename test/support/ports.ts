import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Free TCP ports on 127.0.0.1 for the servers tests start.
 *
 * Not kernel-picked (listen on port 0): such a port comes from the ephemeral range, and between
 * the probe closing it and the daemon binding it, any outgoing connection on the machine (a
 * client, a replica link) may be given it as its local port: `EADDRINUSE` in a full run (seen in
 * daemon-failures). Ports come instead from below the ephemeral range, one block per vitest
 * worker (VITEST_POOL_ID) so parallel test files never hand out the same one, each checked free
 * by binding it, handed out once per block in turn across processes (wrapping round when a block
 * is used up).
 */
const FIRST_PORT = 10_000;
const BLOCKS = 16;

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > FIRST_PORT + BLOCKS * 100 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

const blockSize = Math.floor((ephemeralLow() - FIRST_PORT) / BLOCKS);
const pool = Number(process.env.VITEST_POOL_ID ?? process.env.VITEST_WORKER_ID ?? process.pid);
const blockStart = FIRST_PORT + ((Number.isInteger(pool) ? pool : process.pid) % BLOCKS) * blockSize;
/**
 * Where the block's next port is kept across test files: the files a worker slot runs one after
 * another each get a new process, and restarting at the block's first port handed a file the
 * ports the previous file had just used, where a process it left behind, or one still shutting
 * down, could still act on them (a replica re-pointed by someone else's daemon).
 */
const cursorFile = join(tmpdir(), `raftinel-test-ports-${blockStart}`);
let next = (() => {
  try {
    const n = Number(readFileSync(cursorFile, 'utf8'));
    return Number.isInteger(n) && n >= 0 ? n % blockSize : 0;
  } catch {
    return 0;
  }
})();

function saveCursor(): void {
  try {
    writeFileSync(cursorFile, String(next % blockSize));
  } catch {
    // Best effort: without the file, ports restart from the block's first one.
  }
}

function canListen(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < blockSize; attempt++) {
    const port = blockStart + (next++ % blockSize);
    saveCursor();
    if (await canListen(port, host)) return port;
  }
  throw new Error(`no free TCP port in ${blockStart}..${blockStart + blockSize - 1}`);
}

export async function freePorts(count: number, host = '127.0.0.1'): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort(host));
  return ports;
}
