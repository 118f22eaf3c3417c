/**
 * The control API the orchestrator drives: `GET /status` (LoadgenStatus JSON), `POST /ramp {"target","rate"}`,
 * `POST /latency/reset`, `POST /stop` (answers with the final totals, then the run ends), `GET /metrics`,
 * `GET /active-ids?n=N` ({"active", "ids"}: up to N distinct random indices of connections active now, so a caller
 * routes sends only to connections that exist; N at most MAX_SAMPLE).
 * It is a control surface: every request other than GET needs `Authorization: Bearer <token>` (control-token.ts),
 * else 401 before anything is read or done.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoadgenStatus, RampRequest } from '../shared/contracts.ts';
import type { LoadgenEngine } from './engine.ts';
import { authorized } from './control-token.ts';
import { metricsText } from './metrics.ts';
import { ownCgroupMemory } from '../shared/own-cgroup-memory.ts';

export interface ControlServer {
  port: number;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;
/** Largest sample `GET /active-ids` returns (about 1 MB of JSON). */
export const MAX_SAMPLE = 100_000;

function json(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function problem(res: http.ServerResponse, code: number, error: string, message: string): void {
  json(res, code, { error, message });
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const parts: Buffer[] = [];
    req.on('data', (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) reject(new Error('body too large'));
      else parts.push(d);
    });
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/** Checks a ramp body; returns the problems (all of them). */
export function rampProblems(body: unknown): string[] {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ['body must be a JSON object {"target": N, "rate": R}'];
  const b = body as Record<string, unknown>;
  const out: string[] = [];
  if (typeof b.target !== 'number' || !Number.isInteger(b.target) || b.target < 0) out.push('target must be a whole number >= 0');
  if (b.rate !== undefined && (typeof b.rate !== 'number' || !Number.isFinite(b.rate) || b.rate < 0)) out.push('rate must be a number >= 0 (connections per second; 0: unpaced)');
  return out;
}

export function startControlServer(
  engine: LoadgenEngine,
  host: string,
  port: number,
  hooks: { defaultRate: number; token: string; stop(): Promise<LoadgenStatus>; afterStop(): void },
): Promise<ControlServer> {
  const server = http.createServer(async (req, res) => {
    try {
      const [path, query] = (req.url ?? '/').split('?');
      const route = `${req.method} ${path}`;
      if (req.method !== 'GET' && req.method !== 'HEAD' && !authorized(req.headers.authorization, hooks.token)) {
        res.setHeader('www-authenticate', 'Bearer realm="comet-lab loadgen"');
        return problem(res, 401, 'LAB_ERR_UNAUTHORIZED', `${route} needs "Authorization: Bearer <token>": the token in LOADGEN_CONTROL_TOKEN, --control-token-file, or the file the ready line names (controlTokenFile)`);
      }
      switch (route) {
        case 'GET /status':
          return json(res, 200, { ...(await engine.status()), cgroupMemory: ownCgroupMemory() });
        case 'GET /metrics': {
          const text = metricsText(await engine.status());
          res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
          return void res.end(text);
        }
        case 'GET /health':
          return json(res, 200, { ok: true, procs: engine.procs });
        case 'POST /ramp': {
          let body: unknown;
          try {
            body = JSON.parse((await readBody(req)) || 'null');
          } catch {
            return problem(res, 400, 'LAB_ERR_BAD_REQUEST', 'body is not JSON');
          }
          const problems = rampProblems(body);
          if (problems.length > 0) return problem(res, 400, 'LAB_ERR_BAD_REQUEST', problems.join('; '));
          const r = body as RampRequest;
          const rate = r.rate ?? hooks.defaultRate;
          engine.ramp(r.target, rate);
          return json(res, 200, { ok: true, target: r.target, rate });
        }
        case 'GET /active-ids': {
          const raw = new URLSearchParams(query ?? '').get('n') ?? '1000';
          const n = Number(raw);
          if (!/^\d+$/.test(raw) || n < 1 || n > MAX_SAMPLE) {
            return problem(res, 400, 'LAB_ERR_BAD_REQUEST', `n must be a whole number from 1 to ${MAX_SAMPLE} (got ${JSON.stringify(raw)})`);
          }
          return json(res, 200, await engine.sampleActive(n));
        }
        case 'POST /latency/reset':
          await engine.resetLatency();
          return json(res, 200, { ok: true });
        case 'POST /stop': {
          const final = await hooks.stop();
          res.on('finish', () => hooks.afterStop());
          return json(res, 200, final);
        }
        default:
          if (['/status', '/metrics', '/health', '/ramp', '/latency/reset', '/stop', '/active-ids'].includes(path!)) {
            return problem(res, 405, 'LAB_ERR_METHOD', `${req.method} is not allowed on ${path}`);
          }
          return problem(res, 404, 'LAB_ERR_NOT_FOUND', `no route ${route}; try GET /status`);
      }
    } catch (err) {
      problem(res, 500, 'LAB_ERR_INTERNAL', err instanceof Error ? err.message : String(err));
    }
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
