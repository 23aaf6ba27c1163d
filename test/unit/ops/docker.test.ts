/**
 * The Docker files are not run here (no Docker daemon in CI); these tests check what can be
 * checked without one: the compose file's shape and ports, that each node's config passes the
 * daemon's own config loader, and that the Dockerfile has the steps the docs rely on.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../../scripts/local-group.js';
import { loadConfig, parseConfigText } from '../../../src/config/index.js';

const read = (p: string) => readFileSync(path.join(REPO_ROOT, p), 'utf8');

interface Service {
  build?: string | { context?: string; dockerfile?: string };
  image?: string;
  ports?: (string | { target: number; published: string | number; host_ip?: string })[];
  volumes?: string[];
  depends_on?: string[] | Record<string, unknown>;
  environment?: unknown;
  command?: unknown;
}

const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };
const NODES = [1, 2, 3];

/** "127.0.0.1:26380:26379" → { host: "127.0.0.1", published: 26380, target: 26379 }. */
function portMapping(p: string) {
  const parts = p.split(':');
  const target = Number(parts.pop());
  const published = Number(parts.pop());
  return { host: parts.join(':') || null, published, target };
}

describe('docker-compose.yml', () => {
  it('has exactly the services node1, node2 and node3', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['node1', 'node2', 'node3']);
  });

  it.each(NODES)('node%i builds the local Dockerfile', (n) => {
    const build = compose.services[`node${n}`]!.build;
    const context = typeof build === 'string' ? build : build?.context;
    expect(context).toBe('.');
    if (typeof build === 'object' && build.dockerfile) expect(build.dockerfile).toBe('Dockerfile');
  });

  it.each(NODES)('node%i publishes its Sentinel port 2637x and admin port 2837x, on loopback only', (n) => {
    const ports = compose.services[`node${n}`]!.ports!.map((p) => {
      expect(typeof p).toBe('string');
      return portMapping(p as string);
    });
    expect(ports).toEqual([
      { host: '127.0.0.1', published: 26379 + n - 1, target: 26379 },
      { host: '127.0.0.1', published: 28379 + n - 1, target: 28379 },
    ]);
  });

  it('publishes neither Redis nor the Raft port', () => {
    for (const s of Object.values(compose.services)) {
      for (const p of s.ports ?? []) expect([6379, 27379]).not.toContain(portMapping(p as string).target);
    }
  });

  it.each(NODES)('node%i mounts docker/node%i.toml as its config, and a volume for its data', (n) => {
    const volumes = compose.services[`node${n}`]!.volumes!;
    expect(volumes).toContain(`./docker/node${n}.toml:/etc/raftinel/node.toml:ro`);
    expect(volumes).toContain(`node${n}-data:/var/lib/raftinel`);
  });

  it('starts node2 and node3 after node1', () => {
    for (const n of [2, 3]) {
      const deps = compose.services[`node${n}`]!.depends_on;
      expect(Array.isArray(deps) ? deps : Object.keys(deps ?? {})).toContain('node1');
    }
  });
});

describe('docker/nodeN.toml', () => {
  for (const n of NODES) {
    const file = `docker/node${n}.toml`;
    const config = parseConfigText(read(file), file, { cwd: REPO_ROOT });

    it(`${file} passes the config loader as node ${n}`, () => {
      expect(config.nodeId).toBe(n);
      expect(config.dataDir).toBe('/var/lib/raftinel/raft');
      expect(config.raft.advertise).toBe(`node${n}:27379`);
      expect(config.sentinel.advertise).toBe(`node${n}:26379`);
      expect(config.admin.listen).toBe('0.0.0.0:28379');
      expect(config.redis).toEqual([expect.objectContaining({ shard: 'mymaster', addr: `node${n}:6379` })]);
      // The same through the file-reading path the daemon uses.
      expect(loadConfig({ file, cwd: REPO_ROOT }).nodeId).toBe(n);
    });

    it(n === 1 ? `${file} bootstraps the group` : `${file} joins the group through node1`, () => {
      if (n === 1) {
        expect(config.raft.single).toBe(true);
        expect(config.raft.join).toEqual([]);
      } else {
        expect(config.raft.single).toBe(false);
        expect(config.raft.join).toEqual(['node1:27379']);
      }
    });
  }
});

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('builds on node:20-bookworm-slim', () => {
    expect(instructions[0]).toBe('FROM node:20-bookworm-slim');
  });

  it('installs redis-server with apt', () => {
    expect(instructions.some((l) => /^RUN .*apt-get install .*\bredis-server\b/.test(l))).toBe(true);
  });

  it('copies the repository and runs npm ci', () => {
    expect(instructions).toContain('COPY . .');
    expect(instructions.some((l) => /^RUN .*\bnpm ci\b/.test(l))).toBe(true);
  });

  it('has an entrypoint that exists and is executable', () => {
    const entry = instructions.find((l) => /^(ENTRYPOINT|CMD) /.test(l));
    expect(entry).toBeDefined();
    const m = /^ENTRYPOINT \["\/opt\/raftinel\/([^"]+)"\]$/.exec(entry!);
    expect(m).not.toBeNull();
    const script = path.join(REPO_ROOT, m![1]!);
    expect(statSync(script).mode & 0o111).not.toBe(0);
    execFileSync('bash', ['-n', script]);
    const body = readFileSync(script, 'utf8');
    expect(body).toMatch(/redis-server /);
    expect(body).toMatch(/raftinel start -c "\$config"/);
    expect(body).toContain('/etc/raftinel/node.toml');
  });

  it('.dockerignore keeps node_modules, dist and data out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const p of ['node_modules', 'dist', 'data', '.git']) expect(ignored).toContain(p);
  });
});
