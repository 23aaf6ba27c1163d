import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  configWarnings,
  type NodeConfig,
  parseConfigText,
  renderConfigExample,
} from '../../../src/config/index.js';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('the example config of the product contract', () => {
  it('parses to the documented values', () => {
    const config = parseConfigText(renderConfigExample(), 'node1.toml', { cwd: '/srv/raftinel' });
    expect(config).toEqual({
      file: '/srv/raftinel/node1.toml',
      nodeId: 1,
      dataDir: '/srv/raftinel/data/node1',
      logLevel: 'info',
      raft: {
        listen: '127.0.0.1:27379',
        advertise: '127.0.0.1:27379',
        single: true,
        join: [],
        role: 'voter',
        heartbeatMs: 100,
        electionTimeoutMs: 1000,
        snapshotEveryEntries: 10_000,
      },
      sentinel: { listen: '127.0.0.1:26379', advertise: '127.0.0.1:26379', denyScriptsReconfig: true },
      admin: { listen: '127.0.0.1:28379' },
      failover: {
        downAfterMs: 3000,
        leaseMs: 2000,
        maxLagBytes: 1_048_576,
        switchoverPauseMs: 2000,
        failoverTimeoutMs: 180_000,
        quorum: 2,
        parallelSyncs: 1,
        minReplicasToWrite: 1,
        minReplicasMaxLagSeconds: 2,
        masterRebootDownAfterMs: 0,
        failoverParallelism: 4,
      },
      redis: [{ shard: 'mymaster', addr: '127.0.0.1:6379', role: 'replica', priority: 100 }],
    } satisfies NodeConfig);
    expect(configWarnings(config)).toEqual([]);
  });

  it('still parses with its commented-out keys switched on (join instead of single)', () => {
    const text = renderConfigExample()
      .replace('single = true', '# single = true')
      .replace('# join = ["127.0.0.1:27380"]', 'join = ["127.0.0.1:27380"]')
      .replace('# requirepass = "..."', 'requirepass = "..."')
      .replace('# token = "..."', 'token = "..."');
    const config = parseConfigText(text, 'node1.toml', { cwd: '/' });
    expect(config.raft).toMatchObject({ single: false, join: ['127.0.0.1:27380'] });
    expect(config.sentinel.requirepass).toBe('...');
    expect(config.admin.token).toBe('...');
  });

  it('is the example shown in docs/CONFIGURATION.md', () => {
    const docs = readFileSync(path.join(repo, 'docs', 'CONFIGURATION.md'), 'utf8');
    expect(docs).toContain(`\`\`\`toml\n${renderConfigExample()}\`\`\``);
  });
});
