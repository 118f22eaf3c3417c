/**
 * The live page: a run listener serving, on a loopback port, one page with live charts (GET /), the run as
 * Server-Sent Events (GET /events: the whole history first, then one `sample` a second, `phase`, `run-error`, `done`)
 * and the points as JSON (GET /points.json). It keeps serving after the run ends, until closed, so the last state
 * stays readable; a dead component arrives in the samples as down and the page says which and why.
 *
 * Points carry the time their sample was taken and phases the time they began, both on the run's clock (`t`, seconds
 * since its start); the page draws phase lines from the phases, never by inventing a point. (It once repeated the
 * last sample stamped with Date.now() at a phase change: under the Docker backend, whose samples are stamped when
 * their slower readings began, the next real sample was older than that copy, so lines ran backwards in time and
 * every phase was marked twice.)
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LabError } from '../../shared/errors.ts';
import type { PhaseEvent, RunEventSource } from '../run/flood-run.ts';
import type { RunOutcome } from '../run/outcome.ts';
import type { RunSample } from '../run/sample.ts';
import { renderChartsPage, type PhaseMark } from './live-page.ts';
import { LivePointBuilder, type LivePoint, type LivePointOptions } from './live-point.ts';

/** An hour of one-second samples; older points are dropped (the report keeps everything in samples.csv). */
const MAX_POINTS = 3600;

export interface LivePageOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0: any free port
  title?: string;
  /** How points are computed (the heartbeat for the expected chunk rate). */
  points?: LivePointOptions;
}

/** How a run ended, as the page shows it. */
export interface LiveDone {
  incomplete?: boolean;
  reason?: string;
}

export interface LivePage {
  url: string;
  port: number;
  points: readonly LivePoint[];
  phases: readonly PhaseMark[];
  observe(sample: RunSample): void;
  phase(p: PhaseMark): void;
  error(message: string): void;
  done(info?: LiveDone): void;
  /** Subscribes to a run's `sample`, `phase`, `error` and `done` events; returns a function that unsubscribes. */
  attach(run: RunEventSource): () => void;
  close(): Promise<void>;
}

export async function startLivePage(options: LivePageOptions = {}): Promise<LivePage> {
  const host = options.host ?? '127.0.0.1';
  const html = renderChartsPage({ title: options.title ?? 'comet-lab: live run', live: true });
  const points: LivePoint[] = [];
  const phases: PhaseMark[] = [];
  const clients = new Set<http.ServerResponse>();
  const builder = new LivePointBuilder(options.points);
  let finished: LiveDone | undefined;

  const send = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of clients) res.write(frame);
  };

  function observe(s: RunSample): void {
    const p = builder.next(s);
    points.push(p);
    if (points.length > MAX_POINTS) points.splice(0, points.length - MAX_POINTS);
    send('sample', p);
  }

  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/favicon.ico') {
      res.writeHead(204).end();
    } else if (path === '/' || path === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' }).end(html);
    } else if (path === '/points.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ points, phases, done: finished ?? null }));
    } else if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      // retry: how soon the browser reconnects when the orchestrator restarts the page or the connection drops.
      res.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify({ points, phases })}\n\n`);
      if (finished) res.write(`event: done\ndata: ${JSON.stringify(finished)}\n\n`);
      clients.add(res);
      res.on('close', () => clients.delete(res));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  });
  // A page left open must not keep the orchestrator alive after close(); SSE responses are ended there.
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new LabError('LAB_ERR_LIVE_LISTEN', `live page cannot listen on ${host}:${options.port ?? 0}: ${err.code ?? err.message}`, {
        hint: 'pick another --live-port, or 0 for a free one',
        cause: err,
      })),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const page: LivePage = {
    url: `http://${host}:${port}/`,
    port,
    points,
    phases,
    observe,
    phase(p) {
      phases.push(p);
      send('phase', p);
    },
    error(message) {
      send('run-error', { message });
    },
    done(info = {}) {
      finished = info;
      send('done', info);
    },
    attach(run: RunEventSource) {
      const onSample = (s: RunSample) => observe(s);
      const onPhase = (ev: PhaseEvent) => page.phase({ name: ev.name, t: ev.t });
      const onError = (err: { message: string }) => page.error(err.message);
      // The run's outcome says `incomplete: <why>` when it was cut short.
      const onDone = (o: RunOutcome) => page.done(o.incomplete ? { incomplete: true, reason: o.incomplete } : { incomplete: false });
      run.on('sample', onSample);
      run.on('phase', onPhase);
      run.on('error', onError);
      run.on('done', onDone);
      return () => {
        run.off('sample', onSample);
        run.off('phase', onPhase);
        run.off('error', onError);
        run.off('done', onDone);
      };
    },
    close() {
      for (const res of clients) res.end();
      clients.clear();
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return page;
}
