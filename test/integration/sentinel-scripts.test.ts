/**
 * Sentinel's notification and client-reconfig scripts (issue 10), with real daemons, real
 * redis-server processes and real script processes: SENTINEL SET on any daemon sets them for the
 * shard through the log; every daemon runs them with Sentinel's arguments, from its own events;
 * the client-reconfig script says "leader" on exactly one daemon.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanupAll, dumpLogsIfFailed, waitFor } from '../support/daemons.js';
import { type FailoverCluster, startFailoverCluster, waitForMaster } from '../support/failover.js';
import { callPortOnce, cleanupRedis } from '../support/redis.js';

const SHARD = 'mymaster';
let dir: string | null = null;

afterEach(async (ctx) => {
  dumpLogsIfFailed(ctx);
  await cleanupAll();
  await cleanupRedis();
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = null;
});

function sentinel(fc: FailoverCluster, id: number, ...args: string[]): Promise<unknown> {
  return callPortOnce(fc.c.node(id).ports.sentinel, args, 5000);
}

/** A script that appends "<parent pid>|<arguments>" to `log` (the parent is the daemon). */
function recorder(path: string, log: string): void {
  writeFileSync(path, `#!/bin/sh\necho "$PPID|$*" >> ${JSON.stringify(log)}\n`);
  chmodSync(path, 0o755);
}

function lines(log: string): { pid: number; args: string }[] {
  if (!existsSync(log)) return [];
  return readFileSync(log, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => ({ pid: Number(l.slice(0, l.indexOf('|'))), args: l.slice(l.indexOf('|') + 1) }));
}

describe('notification-script and client-reconfig-script', () => {
  it('set on one daemon, run by every daemon with Sentinel arguments; one leader, the rest observers', async () => {
    const fc = await startFailoverCluster({
      shards: [{ name: SHARD, nodes: [{ owner: 1 }, { owner: 2 }, { owner: 3 }] }],
      sentinelToml: ['deny_scripts_reconfig = false'],
    });
    dir = mkdtempSync(join(tmpdir(), 'raftinel-scripts-'));
    const notify = join(dir, 'notify.sh');
    const reconf = join(dir, 'reconf.sh');
    recorder(notify, join(dir, 'notify.log'));
    recorder(reconf, join(dir, 'reconf.log'));
    const pids = fc.ids.map((id) => fc.c.node(id).proc!.pid!);

    // A path that is not executable is refused with Sentinel's words, and changes nothing.
    await expect(
      sentinel(fc, 2, 'SENTINEL', 'SET', SHARD, 'notification-script', join(dir, 'nope.sh')),
    ).rejects.toThrow('Notification script seems non existing or non executable');
    expect(
      await sentinel(
        fc,
        2,
        'SENTINEL',
        'SET',
        SHARD,
        'notification-script',
        notify,
        'client-reconfig-script',
        reconf,
      ),
    ).toBe('OK');

    // Every daemon shows them (SENTINEL MASTER), and runs the notification script for the +set
    // events (warning level in Sentinel), each from its own process.
    for (const id of fc.ids) {
      await waitFor(
        async () => {
          const m = (await sentinel(fc, id, 'SENTINEL', 'MASTER', SHARD)) as string[];
          const f = Object.fromEntries(m.flatMap((v, i) => (i % 2 === 0 ? [[v, m[i + 1]]] : [])));
          return f['notification-script'] === notify && f['client-reconfig-script'] === reconf;
        },
        10_000,
        { what: `daemon ${id} to show the scripts in SENTINEL MASTER` },
      );
    }
    const m = fc.r(SHARD, 0);
    const [mh, mp] = m.addr.split(':');
    await waitFor(
      () =>
        pids.every((pid) =>
          lines(join(dir!, 'notify.log')).some(
            (l) =>
              l.pid === pid && l.args === `+set master ${SHARD} ${mh} ${mp} client-reconfig-script ${reconf}`,
          ),
        ),
      10_000,
      { what: 'every daemon to run the notification script for +set' },
    );

    // A switchover: the client-reconfig script runs on every daemon with
    // <name> <leader|observer> start <from-ip> <from-port> <to-ip> <to-port>; one leader.
    expect(await sentinel(fc, 3, 'SENTINEL', 'FAILOVER', SHARD)).toBe('OK');
    const { master } = await waitForMaster(fc, SHARD, (addr) => addr !== m.addr, { timeoutMs: 20_000 });
    const [th, tp] = master.split(':');
    const reconfLines = await waitFor(
      () => {
        const ls = lines(join(dir!, 'reconf.log'));
        return ls.length >= 3 ? ls : null;
      },
      15_000,
      { what: 'the client-reconfig script to run on every daemon' },
    );
    expect(reconfLines.map((l) => l.pid).sort()).toEqual([...pids].sort());
    const roles = reconfLines.map((l) => {
      const [name, role, state, ...addrs] = l.args.split(' ');
      expect([name, state, addrs.join(' ')]).toEqual([SHARD, 'start', `${mh} ${mp} ${th} ${tp}`]);
      return role;
    });
    expect(roles.sort()).toEqual(['leader', 'observer', 'observer']);
    await waitFor(
      () =>
        pids.every((pid) =>
          lines(join(dir!, 'notify.log')).some(
            (l) => l.pid === pid && l.args === `+switch-master ${SHARD} ${mh} ${mp} ${th} ${tp}`,
          ),
        ),
      10_000,
      { what: 'every daemon to run the notification script for +switch-master' },
    );

    // Nothing left running or waiting once the scripts exited 0.
    await waitFor(
      async () => ((await sentinel(fc, 1, 'SENTINEL', 'PENDING-SCRIPTS')) as unknown[]).length === 0,
      10_000,
      {
        what: 'no pending script',
      },
    );

    // Clearing with an empty path.
    expect(await sentinel(fc, 1, 'SENTINEL', 'SET', SHARD, 'notification-script', '')).toBe('OK');
    await waitFor(
      async () => {
        const f = (await sentinel(fc, 3, 'SENTINEL', 'MASTER', SHARD)) as string[];
        return !f.includes('notification-script');
      },
      10_000,
      { what: 'the notification script to be cleared everywhere' },
    );
  });

  it("a daemon with deny_scripts_reconfig (the default) refuses script paths in Sentinel's words", async () => {
    const fc = await startFailoverCluster({
      shards: [{ name: SHARD, nodes: [{ owner: 1 }, { owner: 2 }] }],
      daemons: [1, 2],
    });
    await expect(
      sentinel(fc, 2, 'SENTINEL', 'SET', SHARD, 'client-reconfig-script', '/bin/true'),
    ).rejects.toThrow('Reconfiguration of scripts path is denied for security reasons');
  });
});
