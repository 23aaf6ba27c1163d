/**
 * SENTINEL SET through the real command table and server, against a backend double: option names
 * and bounds come from the settings table, and a change that would break the timing rule
 * (lease_ms + election_timeout_ms <= down_after_ms) is refused before it reaches the log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Shard, ShardScripts } from '../../../src/cluster/shards.js';
import { type SentinelBackend, SentinelCommands } from '../../../src/sentinel/sentinel-commands.js';
import type { SentinelServer } from '../../../src/sentinel/server.js';
import { shardFixture, shardSettings } from '../../support/shard-settings.js';
import { err, RawClient, simple, startServer } from './helpers.js';

const ELECTION_TIMEOUT_MS = 1000;

function shard(): Shard {
  return shardFixture({
    master: '127.0.0.1:6379',
    nodes: [{ addr: '127.0.0.1:6379', owner: 1, role: 'replica', priority: 100, accessible: true }],
    // lease 2000 + election timeout 1000 = 3000 <= down_after 5000: the rule holds.
    settings: shardSettings({ downAfterMs: 5000, leaseMs: 2000 }),
  });
}

let server: SentinelServer | null = null;
let client: RawClient | null = null;
afterEach(async () => {
  client?.close();
  await server?.close();
  server = null;
  client = null;
});

/** A server with SENTINEL registered over one shard; `sets` records what reached the backend. */
async function start(
  o: { denyScripts?: boolean; executable?: string[] } = {},
): Promise<{ c: RawClient; sets: Record<string, number>[]; scriptSets: ShardScripts[] }> {
  const s = shard();
  const sets: Record<string, number>[] = [];
  const scriptSets: ShardScripts[] = [];
  const backend = {
    shards: () => [s],
    set: async (
      _name: string,
      settings: Record<string, number>,
      _auth: unknown,
      scripts?: ShardScripts | null,
    ) => {
      if (Object.keys(settings).length > 0) sets.push(settings);
      if (scripts) scriptSets.push(scripts);
      return { ok: true as const };
    },
    scriptsReconfigDenied: () => o.denyScripts ?? true,
    scriptExecutable: (path: string) => (o.executable ?? []).includes(path),
  } as unknown as SentinelBackend;
  server = await startServer();
  new SentinelCommands(backend, { electionTimeoutMs: ELECTION_TIMEOUT_MS }).register(server);
  client = await RawClient.connect(server.port);
  return { c: client, sets, scriptSets };
}

describe('SENTINEL SET', () => {
  it('refuses a down-after-milliseconds that breaks the timing rule, naming the rule and the values', async () => {
    const { c, sets } = await start();
    const reply = await c.call('SENTINEL', 'SET', 'mymaster', 'down-after-milliseconds', '2500');
    expect(reply).toBe(
      err(
        'ERR SENTINEL SET mymaster refused: lease-ms (2000) + raft.election_timeout_ms (1000) = 3000 must be ' +
          'at most down-after-milliseconds (2500): a master cut off from the majority must be fenced before ' +
          'the majority can declare it down and promote another (lower lease-ms or raft.election_timeout_ms, ' +
          'or raise down-after-milliseconds)',
      ),
    );
    expect(sets).toEqual([]);
  });

  it('refuses a lease-ms that breaks the timing rule, or that is shorter than an election', async () => {
    const { c, sets } = await start();
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'lease-ms', '4500')).toMatch(
      /^-ERR SENTINEL SET mymaster refused: lease-ms \(4500\) \+ raft\.election_timeout_ms \(1000\) = 5500 must be at most down-after-milliseconds \(5000\)/,
    );
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'lease-ms', '900')).toMatch(
      /^-ERR SENTINEL SET mymaster refused: lease-ms \(900\) must be at least raft\.election_timeout_ms \(1000\)/,
    );
    expect(sets).toEqual([]);
  });

  it('accepts changes that keep the rule, also two at once, and sends them by snake_case name', async () => {
    const { c, sets } = await start();
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'down-after-milliseconds', '3000')).toBe(simple('OK'));
    // lease-ms 8000 alone would break the rule; with down-after 10000 in the same SET it holds.
    expect(
      await c.call('SENTINEL', 'SET', 'mymaster', 'down-after-milliseconds', '10000', 'lease-ms', '8000'),
    ).toBe(simple('OK'));
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'quorum', '1', 'min-replicas-to-write', '1')).toBe(
      simple('OK'),
    );
    expect(sets).toEqual([
      { down_after_ms: 3000 },
      { down_after_ms: 10000, lease_ms: 8000 },
      { quorum: 1, min_replicas_to_write: 1 },
    ]);
  });

  it("checks each value against the settings table's bounds, with Sentinel's error texts", async () => {
    const { c, sets } = await start();
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'quorum', '0')).toBe(
      err("ERR Invalid argument '0' for SENTINEL SET 'quorum'"),
    );
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'failover-timeout', '2147483648')).toBe(
      err("ERR Invalid argument '2147483648' for SENTINEL SET 'failover-timeout'"),
    );
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'down_after_ms', '5000')).toBe(
      err("ERR Unknown option or number of arguments for SENTINEL SET 'down_after_ms'"),
    );
    expect(sets).toEqual([]);
  });

  it('script paths: refused under deny-scripts-reconfig (the default), checked for execution, cleared with an empty path', async () => {
    const denied = await start();
    const deniedText =
      'ERR Reconfiguration of scripts path is denied for security reasons. Check the deny-scripts-reconfig configuration directive in your Sentinel configuration';
    expect(await denied.c.call('SENTINEL', 'SET', 'mymaster', 'notification-script', '/bin/true')).toBe(
      err(deniedText),
    );
    expect(await denied.c.call('SENTINEL', 'SET', 'mymaster', 'client-reconfig-script', '')).toBe(
      err(deniedText),
    );
    expect(denied.scriptSets).toEqual([]);
    denied.c.close();
    await server?.close();

    const { c, scriptSets } = await start({ denyScripts: false, executable: ['/opt/notify.sh'] });
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'notification-script', '/opt/missing.sh')).toBe(
      err('ERR Notification script seems non existing or non executable'),
    );
    expect(await c.call('SENTINEL', 'SET', 'mymaster', 'client-reconfig-script', '/opt/missing.sh')).toBe(
      err('ERR Client reconfiguration script seems non existing or non executable'),
    );
    expect(
      await c.call(
        'SENTINEL',
        'SET',
        'mymaster',
        'notification-script',
        '/opt/notify.sh',
        'client-reconfig-script',
        '',
      ),
    ).toBe(simple('OK'));
    expect(scriptSets).toEqual([{ notification: '/opt/notify.sh', clientReconfig: '' }]);
  });
});
