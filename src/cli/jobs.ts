/** Starting a job through the admin API and waiting for it, as every mutating subcommand does. */
import { type AdminTarget, adminRequest, apiErrorMessage, CliError } from './admin-client.js';

interface Job {
  id: string;
  kind: string;
  state: string;
  reason: string | null;
  step: string | null;
}

export interface JobOptions {
  wait: boolean;
  timeoutMs: number;
  json: boolean;
  out: (line: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POST/DELETE a mutation; print the job id (--no-wait) or wait for the outcome. */
export async function runJob(
  target: AdminTarget,
  method: string,
  path: string,
  body: unknown,
  opts: JobOptions,
): Promise<void> {
  // Removing the member we talk to stops its daemon before we see the job finish: learn where the
  // other members' admin APIs are, to ask them instead.
  const fallbacks =
    /^\/v1\/members\/[^/]+$/.test(path) && method === 'DELETE' ? await otherAdmins(target) : [];
  const r = await adminRequest(target, method, path, body);
  if (r.status !== 202)
    throw new CliError(`${method} ${path} refused: ${apiErrorMessage(r)}`, r.status === 400 ? 2 : 1);
  const job = r.body.job as Job;
  if (!opts.wait) {
    opts.out(opts.json ? JSON.stringify(job) : job.id);
    return;
  }
  const final = await waitJob(target, job.id, opts, fallbacks);
  if (opts.json) opts.out(JSON.stringify(final));
  if (final.state !== 'succeeded')
    throw new CliError(`job ${final.id} (${final.kind}) failed: ${final.reason ?? 'no reason given'}`);
  if (!opts.json) opts.out(`${final.kind} succeeded${final.reason ? `: ${final.reason}` : ''}`);
}

/** The admin API addresses of the group's other members, as `target` knows them (best effort). */
async function otherAdmins(target: AdminTarget): Promise<AdminTarget[]> {
  try {
    const r = await adminRequest(target, 'GET', '/v1/status');
    const members = (r.body.members as { admin?: string | null }[] | undefined) ?? [];
    return members
      .map((m) => m.admin)
      .filter((a): a is string => typeof a === 'string' && a !== target.admin)
      .map((admin) => ({ ...target, admin }));
  } catch {
    return [];
  }
}

export async function waitJob(
  target: AdminTarget,
  id: string,
  opts: JobOptions,
  fallbacks: AdminTarget[] = [],
): Promise<Job> {
  const deadline = Date.now() + opts.timeoutMs;
  let lastStep: string | null = null;
  let notFoundSince: number | null = null;
  const others = [...fallbacks];
  while (Date.now() < deadline) {
    let r: Awaited<ReturnType<typeof adminRequest>>;
    try {
      r = await adminRequest(target, 'GET', `/v1/jobs/${encodeURIComponent(id)}`);
    } catch (err) {
      const next = others.shift();
      if (!(err instanceof CliError) || !next) throw err;
      target = next;
      continue;
    }
    if (r.status === 200) {
      notFoundSince = null;
      const job = r.body.job as Job;
      if (!opts.json && job.step && job.step !== lastStep && job.state === 'running') {
        lastStep = job.step;
        opts.out(`... ${job.step}`);
      }
      if (job.state === 'succeeded' || job.state === 'failed') return job;
    } else if (r.status === 404) {
      // The daemon asked may not have applied the job's creation yet.
      notFoundSince ??= Date.now();
      if (Date.now() - notFoundSince > 10_000) throw new CliError(`job ${id} not found at ${target.admin}`);
    } else {
      throw new CliError(`cannot read job ${id}: ${apiErrorMessage(r)}`);
    }
    await sleep(200);
  }
  throw new CliError(
    `gave up waiting for job ${id} after ${Math.round(opts.timeoutMs / 1000)} s; it may still finish (raftinel job ${id})`,
  );
}
