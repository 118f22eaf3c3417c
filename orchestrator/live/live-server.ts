/**
 * The live page: a run listener serving, on a loopback port, one page with live charts (GET /), the run as
 * Server-Sent Events (GET /events: the whole history first, then one `sample` a second, `phase`, `run-error`, `done`)
 * and the points as JSON (GET /points.json). It keeps serving after the run ends, until closed, so the last state
 * stays readable; a dead component arrives in the samples as down and the page says which and why.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { LabError } from '../../shared/errors.ts';
import { toLabSample, type LabSample, type RunEventSource } from '../exporter/lab-sample.ts';
import { MemoryPerConnection } from '../exporter/memory-per-connection.ts';
import { renderChartsPage } from './live-page.ts';
import { toLivePoint, type LivePoint } from './live-point.ts';

/** An hour of one-second samples; older points are dropped (the report keeps everything in samples.csv). */
const MAX_POINTS = 3600;

export interface LivePageOptions {
  host?: string; // default 127.0.0.1
  port?: number; // default 0: any free port
  title?: string;
}

export interface LivePage {
  url: string;
  port: number;
  points: readonly LivePoint[];
  observe(sample: LabSample): void;
  error(message: string): void;
  done(info?: { incomplete?: boolean; reason?: string }): void;
  /** Subscribes to a run's `sample`, `phase`, `error` and `done` events; returns a function that unsubscribes. */
  attach(run: RunEventSource): () => void;
  close(): Promise<void>;
}

export async function startLivePage(options: LivePageOptions = {}): Promise<LivePage> {
  const host = options.host ?? '127.0.0.1';
  const html = renderChartsPage({ title: options.title ?? 'comet-lab: live run', live: true });
  const points: LivePoint[] = [];
  const clients = new Set<http.ServerResponse>();
  const perConnection = new MemoryPerConnection();
  let finished: object | undefined;
  let lastSample: LabSample | undefined;

  const send = (event: string, data: unknown) => {
    const frame = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of clients) res.write(frame);
  };

  function observe(s: LabSample): void {
    lastSample = s;
    const p = toLivePoint(s, perConnection.update(s));
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
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ points, done: finished ?? null }));
    } else if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      // retry: how soon the browser reconnects when the orchestrator restarts the page or the connection drops.
      res.write(`retry: 2000\nevent: history\ndata: ${JSON.stringify(points)}\n\n`);
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
    observe,
    error(message) {
      send('run-error', { message });
    },
    done(info = {}) {
      finished = info;
      send('done', info);
    },
    attach(run) {
      const onSample = (raw: unknown) => observe(toLabSample(raw));
      // A phase change between samples: repeat the last sample under the new phase so the page shows it at once.
      const onPhase = (ev: any) => {
        const phase = typeof ev === 'string' ? ev : String(ev?.phase ?? ev?.name ?? 'unknown');
        if (lastSample && lastSample.phase !== phase) observe({ ...lastSample, phase, atMs: Date.now() });
      };
      const onError = (err: any) => page.error(String(err?.message ?? err));
      // The run's outcome says `incomplete: <why>` when it was cut short.
      const onDone = (ev: any) =>
        page.done(typeof ev?.incomplete === 'string' ? { incomplete: true, reason: ev.incomplete } : { incomplete: Boolean(ev?.incomplete), reason: ev?.reason });
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
