/**
 * One seed of the randomized simulation: a group of 3 to 7 members under random faults
 * (partitions, one-way cuts, loss, delay, reordering, duplication, crashes that lose unsynced
 * writes, restarts, membership changes, leadership transfers) while clients propose values; then
 * the faults stop and the group must converge with every acknowledged value applied everywhere.
 * Every choice comes from the seed, so a seed replays exactly.
 */
import type { NodeId } from '../../src/raft/types.js';
import { SimCluster, SimViolation } from './cluster.js';
import { RELIABLE } from './network.js';

export interface SeedOptions {
  trace?: boolean;
  /** Make disks acknowledge writes before they are durable (to prove the checks catch it). */
  breakFsync?: boolean;
}

export interface SeedResult {
  seed: number;
  ok: boolean;
  failure: string | null;
  voters: number;
  elections: number;
  crashes: number;
  partitions: number;
  committed: number;
  acked: number;
  configChanges: number;
  transfers: number;
  steps: number;
  virtualMs: number;
  traceHash: string;
  trace: string[];
}

const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Advance virtual time by `ms`, letting promise callbacks (acknowledgements) run between chunks. */
export async function runFor(c: SimCluster, ms: number, chunkMs = 20): Promise<void> {
  const end = c.scheduler.now + ms;
  while (c.scheduler.now < end) {
    c.run(Math.min(chunkMs, end - c.scheduler.now));
    await flush();
  }
}

/** Advance virtual time until `pred` holds (checked every 10 ms) or `timeoutMs` passed; whether it held. */
export async function runUntil(c: SimCluster, pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = c.scheduler.now + timeoutMs;
  while (c.scheduler.now < end) {
    if (pred()) return true;
    c.run(10);
    await flush();
  }
  return pred();
}

export async function runSeed(seed: number, opts: SeedOptions = {}): Promise<SeedResult> {
  // Per-seed parameters, drawn from the seed too: small append batches make a new leader
  // replicate old entries before its own (Figure 8 territory); small snapshot intervals and
  // chunks exercise InstallSnapshot.
  const probe = new SimCluster({ seed, voters: 1 });
  const pr = probe.random;
  const voters = 3 + pr.int(5);
  const heartbeatMs = [5, 10, 20][pr.int(3)]!;
  const c = new SimCluster({
    seed,
    voters,
    heartbeatMs,
    electionTimeoutMs: heartbeatMs * (5 + pr.int(11)),
    maxAppendBytes: [40, 100, 400, 4096][pr.int(4)]!,
    snapshotEveryEntries: [16, 64, 1000][pr.int(3)]!,
    snapshotTrailingEntries: pr.int(10),
    snapshotChunkBytes: [32, 256, 4096][pr.int(3)]!,
    trace: opts.trace ?? false,
  });
  const r = c.random;
  if (opts.breakFsync) for (const m of c.members.values()) m.disk.lieAboutFsync = true;
  let failure: string | null = null;
  let nextId = voters + 1;
  let chaos = true;

  const upIds = () => [...c.members.values()].filter((m) => m.up).map((m) => m.id);
  const allIds = () => [...c.members.keys()];
  const pick = <T>(xs: T[]): T | undefined => (xs.length === 0 ? undefined : xs[r.int(xs.length)]);
  const leaderId = (): NodeId | undefined => c.leaders()[0]?.id;
  const membership = () => {
    const l = c.leaders()[0];
    return l ? l.raft!.status().membership.members : [];
  };

  // Clients: propose a fresh value every 10-40 ms, mostly through the leader.
  const client = () => {
    if (!chaos) return;
    const target = r.int(10) < 8 ? leaderId() : pick(upIds());
    if (target !== undefined) void c.propose(target);
    c.scheduler.schedule(10 + r.int(31), client);
  };

  // Faults: one action every 100-500 ms.
  const nemesis = () => {
    if (!chaos) return;
    const roll = r.int(100);
    const ids = allIds();
    if (roll < 12) {
      const shuffled = ids.map((x) => ({ x, k: r.int(1000) })).sort((a, b) => a.k - b.k || a.x - b.x);
      const cut = 1 + r.int(ids.length - 1);
      c.partition([shuffled.slice(0, cut).map((s) => s.x), shuffled.slice(cut).map((s) => s.x)]);
    } else if (roll < 20) {
      const id = pick(ids);
      if (id !== undefined) c.isolate(id);
    } else if (roll < 28) {
      const a = pick(ids);
      const b = pick(ids);
      if (a !== undefined && b !== undefined && a !== b) c.cutOneWay(a, b);
    } else if (roll < 40) {
      c.heal();
    } else if (roll < 52) {
      const id = pick(upIds());
      if (id !== undefined) {
        c.crash(id);
        c.scheduler.schedule(50 + r.int(2000), () => {
          if (chaos) c.start(id);
        });
      }
    } else if (roll < 57) {
      const id = pick(upIds());
      if (id !== undefined) c.restart(id);
    } else if (roll < 67) {
      c.network.conditions = {
        dropRate: r.int(21) / 100,
        duplicateRate: r.int(6) / 100,
        minDelayMs: 1,
        maxDelayMs: 2 + r.int(20),
        longDelayRate: r.int(11) / 100,
        longDelayMs: 50 + r.int(300),
      };
      c.trace(`net ${JSON.stringify(c.network.conditions)}`);
    } else if (roll < 75) {
      const lead = leaderId();
      const members = membership();
      if (lead !== undefined && members.length < 8) {
        const id = nextId++;
        c.addProcess(id);
        const role = r.int(4) === 0 ? 'witness' : 'learner';
        // Witnesses, like voters, join as learners first and are promoted once caught up.
        void c.configChange(lead, { type: 'add', id, role: 'learner', addr: `sim-${id}` }).then((ok) => {
          if (ok && role === 'witness') c.scheduler.schedule(200, () => promote(id, 'witness'));
        });
      }
    } else if (roll < 82) {
      const learner = pick(membership().filter((m) => m.role === 'learner'));
      if (learner) promote(learner.id, r.int(3) === 0 ? 'witness' : 'voter');
    } else if (roll < 89) {
      const lead = leaderId();
      const members = membership();
      const votersNow = members.filter((m) => m.role !== 'learner');
      const victim = pick(members);
      if (lead !== undefined && victim && (victim.role === 'learner' || votersNow.length > 3)) {
        void c.configChange(lead, { type: 'remove', id: victim.id });
      }
    } else {
      const lead = c.leaders()[0];
      const target = pick(membership().filter((m) => m.role !== 'learner' && m.id !== lead?.id));
      if (lead && target) {
        try {
          lead.raft!.transferLeadership(target.id);
          c.stats.transfers++;
          c.trace(`transfer ${lead.id} -> ${target.id}`);
        } catch {
          // Not possible right now (not leader any more, unknown member): fine.
        }
      }
    }
    c.scheduler.schedule(100 + r.int(401), nemesis);
  };

  const promote = (id: NodeId, role: 'voter' | 'witness') => {
    const lead = leaderId();
    if (lead !== undefined && chaos) void c.configChange(lead, { type: 'set_role', id, role });
  };

  try {
    const chaosMs = 8000 + r.int(8001);
    c.scheduler.schedule(0, client);
    c.scheduler.schedule(200, nemesis);
    await runFor(c, chaosMs);

    // Faults stop: heal, reliable network, every process up.
    chaos = false;
    c.heal();
    c.network.conditions = { ...RELIABLE };
    for (const id of allIds()) if (!c.members.get(id)!.up) c.start(id);
    c.trace('faults stopped');

    if (!(await runUntil(c, () => c.stableLeader() !== undefined, 10_000))) {
      throw new SimViolation('liveness: no stable leader within 10 s after faults stopped');
    }
    let finalAcked = false;
    for (let attempt = 0; attempt < 20 && !finalAcked; attempt++) {
      const l = c.stableLeader();
      if (l) {
        let acked = false;
        void c.propose(l.id).then((ok) => {
          acked = ok;
        });
        await runUntil(c, () => acked, 300);
        finalAcked = acked;
      } else await runFor(c, 200);
    }
    if (!finalAcked)
      throw new SimViolation('liveness: a proposal to the stable leader was not committed within 6 s');
    if (!(await runUntil(c, () => c.checkConverged() === null, 10_000))) {
      throw new SimViolation(`liveness: group did not converge: ${c.checkConverged()}`);
    }
    // With faults stopped, the leader holds a lease (its masters are not fenced, its Sentinel
    // port answers) within a few election timeouts.
    const leased = () => c.stableLeader()?.raft?.lease().valid === true;
    if (!(await runUntil(c, leased, 3 * c.opts.electionTimeoutMs))) {
      throw new SimViolation(
        `liveness: the stable leader ${c.stableLeader()?.id} holds no lease ${3 * c.opts.electionTimeoutMs} ms after converging`,
      );
    }
  } catch (err) {
    failure = err instanceof SimViolation ? err.message : `unexpected error: ${(err as Error).stack ?? err}`;
    if (opts.trace) {
      for (const m of c.members.values()) {
        if (!m.up) continue;
        const s = m.raft!.status();
        c.trace(
          `state ${m.id}: ${JSON.stringify({ ...s, membership: s.membership.members.map((x) => `${x.id}:${x.role}`) })}`,
        );
      }
    }
    c.trace(`FAILED: ${failure}`);
  }
  for (const m of c.members.values()) if (m.up) m.raft!.stop('simulation over');

  return {
    seed,
    ok: failure === null,
    failure,
    voters,
    elections: c.stats.elections,
    crashes: c.stats.crashes,
    partitions: c.stats.partitions,
    committed: c.committed.length - 1,
    acked: c.acked.size,
    configChanges: c.stats.configChanges,
    transfers: c.stats.transfers,
    steps: c.scheduler.steps,
    virtualMs: c.scheduler.now,
    traceHash: `${(c.traceHash >>> 0).toString(16)}-${c.scheduler.steps}-${c.network.delivered}-${c.committed.length}`,
    trace: c.traceLines,
  };
}
