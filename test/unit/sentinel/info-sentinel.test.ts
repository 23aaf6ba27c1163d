/**
 * INFO as Sentinel 7.0 answers it, following Redis's tests/sentinel/tests/13-info-command.tcl:
 * sections server, clients, stats, cpu and sentinel only; `all`, `default` and `everything` are
 * all five; sections are picked case-insensitively and unknown ones are ignored.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SentinelServer } from '../../../src/sentinel/server.js';
import { RawClient } from './helpers.js';
import { startDaemonLikePort } from './port-fixture.js';

let server: SentinelServer | null = null;
let client: RawClient | null = null;
afterEach(async () => {
  client?.close();
  client = null;
  await server?.close();
  server = null;
});

async function info(...sections: string[]): Promise<string> {
  server ??= await startDaemonLikePort();
  client ??= await RawClient.connect(server.port);
  const reply = await client.call('INFO', ...sections);
  expect(reply.startsWith('$')).toBe(true);
  return reply.slice(reply.indexOf('\r\n') + 2, -2);
}

function titles(text: string): string[] {
  return text.split('\r\n').filter((l) => l.startsWith('# '));
}

const ALL = ['# Server', '# Clients', '# Stats', '# CPU', '# Sentinel'];

describe('INFO on the Sentinel port (13-info-command)', () => {
  it('with at most one argument: the five sections, and none of a data node', async () => {
    for (const arg of [[], ['all'], ['default'], ['everything']]) {
      const text = await info(...arg);
      expect(titles(text)).toEqual(ALL);
      for (const field of ['redis_version', 'maxclients', 'used_cpu_user', 'sentinel_tilt'])
        expect(text).toContain(field);
      for (const field of ['used_memory', 'rdb_last_bgsave', 'master_repl_offset', 'cluster_enabled'])
        expect(text).not.toContain(field);
    }
  });

  it('one section', async () => {
    const cpu = await info('cpu');
    expect(titles(cpu)).toEqual(['# CPU']);
    expect(cpu).toContain('used_cpu_user');
    expect(cpu).not.toContain('sentinel_tilt');
    expect(cpu).not.toContain('redis_version');
    const sentinel = await info('sentinel');
    expect(titles(sentinel)).toEqual(['# Sentinel']);
    expect(sentinel).toContain('sentinel_tilt');
    expect(sentinel).not.toContain('used_cpu_user');
    expect(titles(await info('CPU'))).toEqual(['# CPU']);
  });

  it('several sections; unknown ones (replication) are ignored, all wins over the others', async () => {
    const some = await info('server', 'sentinel', 'replication');
    expect(titles(some)).toEqual(['# Server', '# Sentinel']);
    expect(some).not.toContain('used_memory');
    expect(some).not.toContain('used_cpu_user');
    const all = await info('cpu', 'all');
    expect(titles(all)).toEqual(ALL);
    expect(all).not.toContain('master_repl_offset');
    expect(await info('foo')).toBe('');
  });

  it("the fields of Sentinel 7.0's sections, in its order", async () => {
    const keys = (text: string) =>
      text
        .split('\r\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => l.slice(0, l.indexOf(':')));
    expect(keys(await info('clients'))).toEqual([
      'connected_clients',
      'cluster_connections',
      'maxclients',
      'client_recent_max_input_buffer',
      'client_recent_max_output_buffer',
      'blocked_clients',
      'tracking_clients',
      'clients_in_timeout_table',
    ]);
    expect(keys(await info('cpu'))).toEqual([
      'used_cpu_sys',
      'used_cpu_user',
      'used_cpu_sys_children',
      'used_cpu_user_children',
      'used_cpu_sys_main_thread',
      'used_cpu_user_main_thread',
    ]);
    expect(keys(await info('sentinel'))).toEqual([
      'sentinel_masters',
      'sentinel_tilt',
      'sentinel_tilt_since_seconds',
      'sentinel_running_scripts',
      'sentinel_scripts_queue_length',
      'sentinel_simulate_failure_flags',
    ]);
    const stats = keys(await info('stats'));
    expect(stats).toHaveLength(50);
    expect(stats.slice(0, 3)).toEqual([
      'total_connections_received',
      'total_commands_processed',
      'instantaneous_ops_per_sec',
    ]);
    expect(stats.at(-1)).toBe('reply_buffer_expands');
    const server = keys(await info('server'));
    expect(server).toContain('redis_mode');
    expect(server).toContain('run_id');
    expect(server).toContain('lru_clock');
  });
});
