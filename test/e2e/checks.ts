/**
 * What every partition scenario checks once the faults are healed (test/e2e/*.test.ts):
 * the shard converges to one master named by every daemon, replicated by every other node; no two
 * Redis nodes accepted writes at the same time (beyond what the samples can resolve); daemons never
 * named two different masters for longer than an election timeout; acknowledged writes are
 * counted key by key on the final master, and none acknowledged with WAIT 1 is missing.
 */
import { type Ack, type ClientProc, type E2ECluster, type LossReport, lossReport } from './cluster.js';
import {
  type DualWindow,
  dualMasterWindows,
  type NamingDisagreement,
  type NamingMonitor,
  namingDisagreements,
  type WriteSample,
  type WriteSampler,
} from './observe.js';

export interface Outcome {
  master: string;
  epoch: number;
  failovers: number;
  samples: WriteSample[];
  dual: DualWindow[];
  disagreements: NamingDisagreement[];
  /** Per client (in the order given): its loss report, and the acks of its lost keys. */
  losses: { client: ClientProc; report: LossReport; lostAcks: Ack[] }[];
}

/** Stop the instruments and the clients, wait for convergence, and measure. */
export async function settle(
  c: E2ECluster,
  o: { sampler: WriteSampler; monitor: NamingMonitor; clients: ClientProc[]; expectMaster?: string },
): Promise<Outcome> {
  const { master, epoch } = await c.waitConverged(o.expectMaster, 45_000);
  // Every client writes again (to the converged master: it is the only one accepting writes).
  await Promise.all(o.clients.map((cl) => cl.waitAcks(20, 30_000)));
  await Promise.all(o.clients.map((cl) => cl.stop()));
  const [samples, polls] = await Promise.all([o.sampler.stop(), o.monitor.stop()]);
  const final = c.redisOn(c.hostOf(master));
  const losses = [];
  for (const client of o.clients) {
    const report = await lossReport(final, client.acks);
    const lostSet = new Set(await final.missing(client.acks.map((a) => a.a)));
    losses.push({ client, report, lostAcks: client.acks.filter((a) => lostSet.has(a.a)) });
  }
  return {
    master,
    epoch,
    failovers: (await c.failovers()).length,
    samples,
    dual: dualMasterWindows(samples),
    disagreements: namingDisagreements(polls),
    losses,
  };
}

/** The problems found in an outcome (empty when every check holds). */
export function problems(out: Outcome, opts: { maxDisagreementMs: number }): string[] {
  const p: string[] = [];
  for (const d of out.dual)
    p.push(
      `split brain: ${d.a} and ${d.b} both accepted writes for ${d.ms} ms from ${new Date(d.fromMs).toISOString()}`,
    );
  for (const d of out.disagreements.filter((x) => x.ms > opts.maxDisagreementMs))
    p.push(`daemons named different masters (${d.names.join(' and ')}) for ${d.ms} ms`);
  for (const l of out.losses)
    if (l.report.waitLost > 0)
      p.push(
        `${l.client.proc.name}: ${l.report.waitLost} writes acknowledged with WAIT 1 were lost: ${l.report.waitLostKeys.join(', ')}`,
      );
  return p;
}

/** One line per client: acked / lost (WAIT-acked / lost). */
export function describeLosses(out: Outcome): string {
  return out.losses
    .map(
      (l) =>
        `${l.client.proc.name}: acked ${l.report.acked}, lost ${l.report.lost}; WAIT-acked ${l.report.waitAcked}, lost ${l.report.waitLost}`,
    )
    .join('; ');
}
