/**
 * `nchan`: nginx + libnginx-mod-nchan (Debian), a channel per id: `GET /test/<id>` subscribes (http-chunked),
 * `POST /pub/<id>` publishes. Sends go to /pub/<id>, a broadcast to /pub/all (every subscriber is then also on
 * channel `all`). nchan relays a body as is, so the lab stamps each message `@<sentAtMs>` itself (comet-lab's
 * server stamps its own), and the load generators measure delivery the same way for both. No heartbeat: a
 * subscriber with nothing published receives nothing after its headers.
 */
import { existsSync } from 'node:fs';
import { messageChunk } from '../../shared/message-format.ts';
import { nowMs } from '../../shared/clock.ts';
import { EXIT, LabError } from '../../shared/errors.ts';
import { connectAllTo } from './loopback-plan.ts';
import { launchNginx, nchanModulePath } from './nginx.ts';
import type { Target, TargetMessaging } from './target.ts';

/** The body of a publish: the message line the load generator parses (without its newline: nchan frames it). */
const stamped = (body: string) => messageChunk(nowMs(), body).trimEnd();

export const nchanMessaging: TargetMessaging = {
  sendRequest: (id) => ({ method: 'POST', path: `/pub/${id}`, headers: { 'content-type': 'text/plain' }, body: stamped('hello from comet-lab') }),
  async broadcast(baseUrl, body, timeoutMs) {
    const res = await fetch(`${baseUrl}/pub/all`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', accept: 'application/json' },
      body: stamped(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new LabError('LAB_ERR_COMPONENT_HTTP', `POST ${baseUrl}/pub/all answered ${res.status}: ${text.slice(0, 200)}`);
    // nchan answers the channel's state: {"messages":1,"subscribers":N,...}
    const subscribers = (JSON.parse(text) as { subscribers?: number }).subscribers;
    return { delivered: typeof subscribers === 'number' ? subscribers : undefined };
  },
};

export function nchanTarget(): Target {
  return {
    kind: 'nchan',
    name: 'nchan',
    label: 'nchan',
    supports: { transports: ['chunked', 'ws'], sends: true, broadcast: true, heartbeat: false },
    backends: ['local'],
    description: 'nginx-light + libnginx-mod-nchan (Debian): http-chunked (or websocket) subscriber per id, publisher at /pub/<id>, one nginx worker per planned server worker, 127.0.0.1 only',
    loadgenFlags: [],
    streamPath: (transport) => (transport === 'ws' ? '/ws/{i}' : '/test/{i}'),
    async preflight() {
      if (!existsSync('/usr/sbin/nginx')) {
        throw new LabError('LAB_ERR_NO_NGINX', 'nginx is not installed (/usr/sbin/nginx)', { exitCode: EXIT.preflight, hint: 'run `make system-deps` (nginx-light, libnginx-mod-nchan)' });
      }
      nchanModulePath();
    },
    adaptPlan: (plan) => {
      plan.server.engine = 'nginx+nchan';
      connectAllTo(plan, '127.0.0.1');
    },
    launchLocal: (l) => launchNginx('nchan', l),
    messaging: nchanMessaging,
  };
}
