/**
 * The test-host harness itself (test/e2e/netns.ts): every kind of partition cuts what it should
 * and nothing else, the observer always reaches every host, SIGSTOP freezes a process, flapping
 * ends healed, and destroy() leaves no namespace behind. Checked with plain TCP connects (there is
 * no ping here). Needs root; without it the suite says why and does not run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HostProcess, netnsSupport, TestNet, tcpReachable } from './netns.js';

const support = netnsSupport();
if (!support.ok) console.warn(`[e2e] network-namespace tests not run: ${support.reason}`);

const PORT = 7000;

describe.runIf(support.ok)('test-host harness (network namespaces)', () => {
  let net: TestNet;
  const servers: HostProcess[] = [];

  beforeAll(async () => {
    net = await TestNet.create(4);
    // A TCP server on every host that answers "hi" and closes, and a UDP socket that prints what it gets.
    const script =
      "require('net').createServer((s)=>{s.on('error',()=>{});s.end('hi\\n')}).listen(+process.argv[2],process.argv[1],()=>console.log('listening'));" +
      "const u=require('dgram').createSocket('udp4');u.on('message',(m)=>console.log('udp '+m));u.bind(+process.argv[2],process.argv[1]);" +
      // An agent too: "<id> <addr> <port> <ms>" on stdin → "res <id> 1|0" (connected in time or not).
      "require('readline').createInterface({input:process.stdin}).on('line',(l)=>{const [id,a,p,ms]=l.split(' ');" +
      "const c=require('net').connect(+p,a);const done=(ok)=>{clearTimeout(t);c.destroy();console.log('res '+id+' '+ok)};" +
      "const t=setTimeout(()=>done(0),+ms);c.on('connect',()=>done(1));c.on('error',()=>done(0))});";
    for (const h of net.hosts) {
      const p = net.spawn(h.id, 'tcp-server', process.execPath, ['-e', script, h.addr, String(PORT)], {
        stdin: true,
      });
      servers.push(p);
    }
    await Promise.all(servers.map((p) => p.waitForLine((l) => l === 'listening', 20_000)));
  });

  afterAll(async () => {
    await net?.destroy();
  });

  let seq = 0;
  /** Host `from` connects to `addr:PORT` (through the agent running there). */
  async function agentConnect(from: number, addr: string, ms: number): Promise<boolean> {
    const id = ++seq;
    const p = servers[from - 1]!;
    const line = p.waitForLine((l) => l.startsWith(`res ${id} `), ms + 5000, p.lines.length);
    p.proc.stdin!.write(`${id} ${addr} ${PORT} ${ms}\n`);
    return (await line).endsWith(' 1');
  }

  /** Reachability matrix between hosts, as "a>b" strings of reachable pairs. */
  async function matrix(): Promise<Set<string>> {
    const out = new Set<string>();
    await Promise.all(
      net.hosts.flatMap((a) =>
        net.hosts
          .filter((b) => b.id !== a.id)
          .map(async (b) => {
            if (await agentConnect(a.id, b.addr, 700)) out.add(`${a.id}>${b.id}`);
          }),
      ),
    );
    return out;
  }

  function allPairs(except: (a: number, b: number) => boolean): string[] {
    const out: string[] = [];
    for (const a of net.hosts)
      for (const b of net.hosts) if (a.id !== b.id && !except(a.id, b.id)) out.push(`${a.id}>${b.id}`);
    return out.sort();
  }

  async function observerReachesAll(): Promise<void> {
    for (const h of net.hosts)
      expect(await tcpReachable(h.addr, PORT, 1000), `observer → host ${h.id}`).toBe(true);
  }

  it('connects every host to every other and to the observer', async () => {
    expect([...(await matrix())].sort()).toEqual(allPairs(() => false));
    await observerReachesAll();
  });

  it('isolates one host, splits majority/minority, and heals', async () => {
    await net.isolate(1);
    expect([...(await matrix())].sort()).toEqual(allPairs((a, b) => a === 1 || b === 1));
    await observerReachesAll();

    await net.partition([
      [1, 2],
      [3, 4],
    ]);
    const side = (x: number) => (x <= 2 ? 0 : 1);
    expect([...(await matrix())].sort()).toEqual(allPairs((a, b) => side(a) !== side(b)));
    await observerReachesAll();

    await net.heal();
    expect([...(await matrix())].sort()).toEqual(allPairs(() => false));
  });

  it('cuts one way: packets from 1 reach 2, nothing from 2 reaches 1', async () => {
    await net.oneWay(1, 2);
    // TCP needs both directions, so connects fail both ways; datagrams show the direction.
    const m = await matrix();
    expect(m.has('1>2')).toBe(false);
    expect(m.has('2>1')).toBe(false);
    expect(m.has('1>3') && m.has('3>1') && m.has('2>3')).toBe(true);
    const send = (from: number, to: number, msg: string) =>
      net.exec(from, process.execPath, [
        '-e',
        "const u=require('dgram').createSocket('udp4');u.send(process.argv[3],+process.argv[2],process.argv[1],()=>u.close())",
        net.addr(to),
        String(PORT),
        msg,
      ]);
    const at2 = servers[1]!.waitForLine((l) => l === 'udp from-1', 5000);
    await send(1, 2, 'from-1');
    await at2;
    await send(2, 1, 'from-2');
    await send(3, 1, 'from-3');
    await servers[0]!.waitForLine((l) => l === 'udp from-3', 5000);
    expect(servers[0]!.lines).not.toContain('udp from-2');
    await net.heal();
  });

  it('bridges: 1 and 2 cannot talk to 3, 4 talks to everyone', async () => {
    await net.bridge(4, [1, 2], [3]);
    const m = await matrix();
    expect(['1>3', '3>1', '2>3', '3>2'].filter((p) => m.has(p))).toEqual([]);
    expect(['1>4', '4>1', '2>4', '3>4', '4>3', '1>2'].every((p) => m.has(p))).toBe(true);
    await net.heal();
  });

  it("cuts only one port between two hosts (a leader's link to one Redis)", async () => {
    await net.cutPort(2, 1, PORT);
    expect(await net.reachable(2, net.addr(1), PORT, 700)).toBe(false);
    // Other ports of host 1 still answer (refused counts as reachable), and 1 still reaches 2.
    expect(await net.reachable(2, net.addr(1), PORT + 1, 700, true)).toBe(true);
    expect(await net.reachable(1, net.addr(2), PORT, 700)).toBe(true);
    await net.heal();
  });

  it('flaps a link on a seeded schedule and ends healed', async () => {
    const seen: boolean[] = [];
    const res = await net.flap({
      down: () => net.isolate(3),
      up: () => net.heal(),
      minMs: 200,
      maxMs: 400,
      durationMs: 2000,
      seed: 7,
    });
    expect(res.toggles).toBeGreaterThanOrEqual(4);
    expect(res.toggles).toBeLessThanOrEqual(12);
    seen.push(await net.reachable(1, net.addr(3), PORT, 700));
    expect(seen).toEqual([true]);
    expect(net.describeRules()).toBe('healed');
  });

  it('SIGSTOP freezes a process in a namespace; SIGCONT resumes it', async () => {
    const p = servers[1]!;
    p.signal('SIGSTOP');
    // The kernel still completes the TCP handshake (backlog), but nothing answers.
    const { respOnce } = await import('./observe.js');
    const r = await respOnce(net.addr(2), PORT, ['PING'], 500);
    expect(r.error).toBe('timeout');
    p.signal('SIGCONT');
    const r2 = await respOnce(net.addr(2), PORT, ['PING'], 2000);
    expect(r2.raw).toContain('hi');
  });

  it('destroy() removes every namespace and process', async () => {
    const other = await TestNet.create(2);
    const p = other.spawn(1, 'sleeper', 'sleep', ['60']);
    expect(other.leftovers().length).toBe(3);
    await other.destroy();
    expect(other.leftovers()).toEqual([]);
    expect(p.running).toBe(false);
  });
});
