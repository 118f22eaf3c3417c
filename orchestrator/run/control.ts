/**
 * The orchestrator's side of the components' HTTP APIs: the server (`GET /stats`, `POST /broadcast`) and each load
 * generator's control port (`GET /status`, `POST /ramp`, `POST /latency/reset`, `POST /stop`, `GET /active-ids`).
 * Every call is bounded in time, so a component that hangs turns into an error the run reports instead of a stuck
 * run; a call that ran out of time fails with LAB_ERR_COMPONENT_TIMEOUT (it may still have done its work).
 */
import type { LoadgenStatus, RampRequest, ServerStats } from '../../shared/contracts.ts';
import { LabError } from '../../shared/errors.ts';

const TIMEOUT_MS = 10_000;

/** Control requests carry the component's token (Component.token): the server's admin token, a load generator's. */
function headers(body: unknown, token: string | undefined): Record<string, string> | undefined {
  const h: Record<string, string> = {};
  if (body !== undefined) h['content-type'] = typeof body === 'string' ? 'text/plain' : 'application/json';
  if (token) h.authorization = `Bearer ${token}`;
  return Object.keys(h).length ? h : undefined;
}

/** A string body goes as text/plain (the server takes a message as text); anything else as JSON. */
async function call<T>(method: 'GET' | 'POST', url: string, body?: unknown, timeoutMs = TIMEOUT_MS, token?: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: headers(body, token),
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    if ((err as Error).name === 'TimeoutError') {
      throw new LabError('LAB_ERR_COMPONENT_TIMEOUT', `${method} ${url} did not answer within ${timeoutMs} ms`, { cause: err });
    }
    throw new LabError('LAB_ERR_COMPONENT_UNREACHABLE', `${method} ${url} failed: ${(err as Error).cause ?? (err as Error).message}`, { cause: err });
  }
  const text = await res.text();
  if (!res.ok) throw new LabError('LAB_ERR_COMPONENT_HTTP', `${method} ${url} answered ${res.status}: ${text.slice(0, 200)}`);
  try {
    return (text ? JSON.parse(text) : {}) as T;
  } catch (err) {
    throw new LabError('LAB_ERR_COMPONENT_HTTP', `${method} ${url} answered something that is not JSON: ${text.slice(0, 200)}`, { cause: err });
  }
}

export const serverStats = (base: string) => call<ServerStats>('GET', `${base}/stats`);
/**
 * The time POST /broadcast gets to answer: the server answers after writing to every stream it holds, which takes
 * longer the more it holds (at 300,000 on two saturated cores, more than 10 s). 10 s plus 10 s per 100,000
 * connections, at most 2 minutes.
 */
export function broadcastAnswerTimeoutMs(connections: number): number {
  return Math.min(120_000, TIMEOUT_MS + Math.ceil(Math.max(0, connections) / 10));
}

/** The server answers how many streams it delivered to. */
export const broadcast = (base: string, message: string, timeoutMs = TIMEOUT_MS, token?: string) =>
  call<{ delivered?: number }>('POST', `${base}/broadcast`, message, timeoutMs, token);
/** Up to `n` random indices (connection ids) of a load generator's connections active now, and how many are. */
export const activeIds = (base: string, n: number) => call<{ active: number; ids: number[] }>('GET', `${base}/active-ids?n=${n}`);
export const loadgenStatus = (base: string) => call<LoadgenStatus>('GET', `${base}/status`);
export const ramp = (base: string, req: RampRequest, token?: string) => call<unknown>('POST', `${base}/ramp`, req, TIMEOUT_MS, token);
export const resetLatency = (base: string, token?: string) => call<unknown>('POST', `${base}/latency/reset`, {}, TIMEOUT_MS, token);
export const stopLoadgen = (base: string, token?: string) => call<unknown>('POST', `${base}/stop`, {}, 3000, token);
