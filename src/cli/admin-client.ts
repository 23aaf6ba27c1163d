/** A small client of the admin HTTP API for the CLI. */

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export interface AdminTarget {
  admin: string;
  token?: string;
  timeoutMs?: number;
}

export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

export async function adminRequest(
  target: AdminTarget,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResponse> {
  const url = `http://${target.admin}${path}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(target.timeoutMs ?? 15_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    const why =
      cause === 'ECONNREFUSED'
        ? 'connection refused (is the daemon running?)'
        : cause === 'TimeoutError'
          ? 'timed out'
          : cause;
    throw new CliError(`cannot reach the admin API at ${target.admin}: ${why}`);
  }
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    throw new CliError(
      `the admin API at ${target.admin} answered ${res.status} with something that is not JSON`,
    );
  }
  return { status: res.status, body: parsed };
}

/** The error message of an API error body, or a generic one. */
export function apiErrorMessage(r: ApiResponse): string {
  const e = r.body.error as { message?: string; code?: string } | undefined;
  return e?.message ? `${e.message}${e.code ? ` (${e.code})` : ''}` : `HTTP ${r.status}`;
}
