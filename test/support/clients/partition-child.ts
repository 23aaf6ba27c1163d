/**
 * The RaftProxies of partition.ts in a process of their own (see RaftProxiesProcess): the Raft
 * traffic between daemons then never waits on a busy test process. Driven over the fork IPC
 * channel; exits when its parent goes away.
 */
import { RaftProxies } from './partition.js';

type Request =
  | { id: number; op: 'add'; node: number; targetPort: number }
  | { id: number; op: 'pids'; pids: Record<number, number> }
  | { id: number; op: 'isolate'; node: number }
  | { id: number; op: 'heal'; node: number }
  | { id: number; op: 'links' }
  | { id: number; op: 'close' };

const pids = new Map<number, number>();
const proxies = new RaftProxies((node) => pids.get(node));

process.on('message', async (m: Request) => {
  try {
    let value: unknown = null;
    switch (m.op) {
      case 'add':
        value = await proxies.add(m.node, m.targetPort);
        break;
      case 'pids':
        pids.clear();
        for (const [k, v] of Object.entries(m.pids)) pids.set(Number(k), v);
        break;
      case 'isolate':
        proxies.isolate(m.node);
        break;
      case 'heal':
        proxies.heal(m.node);
        break;
      case 'links':
        value = { links: proxies.openLinks(), lookupMs: proxies.lookupMs };
        break;
      case 'close':
        await proxies.close();
        break;
    }
    process.send?.({ id: m.id, value });
  } catch (err) {
    process.send?.({ id: m.id, error: (err as Error).message });
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
