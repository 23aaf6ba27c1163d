/**
 * The admin HTTP edge: JSON in and out, bearer tokens, size limits, and /metrics in Prometheus
 * text format. Hostile input gets a clear JSON error; nothing a client sends can crash the daemon.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseAddress } from '../config/address.js';
import type { Logger } from '../util/log.js';
import type { AdminApi, AdminResponse } from './api.js';

export const MAX_BODY_BYTES = 64 * 1024;

export interface HttpServerOptions {
  listen: string;
  logger: Logger;
  /** The /v1 API; omitted on a metrics-only listener. */
  api?: AdminApi;
  /** Renders /metrics; omitted when metrics are served elsewhere. */
  metrics?: () => Promise<{ contentType: string; body: string }>;
}

function send(res: ServerResponse, r: AdminResponse): void {
  const body = `${JSON.stringify(r.body, null, 2)}\n`;
  res.writeHead(r.status, { 'content-type': 'application/json; charset=utf-8', ...(r.headers ?? {}) });
  res.end(body);
}

function error(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
) {
  send(res, { status, body: { error: { code, message } }, ...(headers ? { headers } : {}) });
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h.trim());
  return m ? m[1] : '';
}

/** Read the request body up to MAX_BODY_BYTES; null when it was too big. */
function readBody(req: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > MAX_BODY_BYTES) {
      resolve(null);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.removeAllListeners('data');
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class AdminHttpServer {
  private server: Server;
  private port = 0;

  constructor(private readonly opts: HttpServerOptions) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || req.destroyed) {
          // The client hung up mid-request: its problem, not an error of this daemon.
          opts.logger.debug({ err: (err as Error).message }, 'admin client went away');
          res.destroy();
          return;
        }
        opts.logger.error({ err }, 'admin request failed');
        if (!res.headersSent) error(res, 500, 'internal', 'internal error');
        else res.destroy();
      });
    });
    // Slow or stuck clients cannot hold connections forever.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 100;
  }

  async start(): Promise<number> {
    const { host, port } = parseAddress(this.opts.listen);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : port;
    return this.port;
  }

  get listeningPort(): number {
    return this.port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    if (url.pathname === '/metrics') {
      if (!this.opts.metrics)
        return error(res, 404, 'not_found', '/metrics is served on the metrics listener');
      if (method !== 'GET' && method !== 'HEAD') {
        return error(res, 405, 'method_not_allowed', `${method} is not allowed on /metrics; use GET`, {
          allow: 'GET, HEAD',
        });
      }
      const m = await this.opts.metrics();
      res.writeHead(200, { 'content-type': m.contentType });
      res.end(method === 'HEAD' ? undefined : m.body);
      return;
    }
    if (!this.opts.api) return error(res, 404, 'not_found', `no such endpoint: ${url.pathname}`);
    const raw = await readBody(req);
    if (raw === null)
      return error(res, 413, 'payload_too_large', `request body is larger than ${MAX_BODY_BYTES} bytes`);
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch (err) {
        return error(res, 400, 'invalid_json', `request body is not valid JSON: ${(err as Error).message}`);
      }
    }
    const r = await this.opts.api.handle({ method, path: url.pathname, body, token: bearer(req), hops: 0 });
    send(res, r);
  }
}
