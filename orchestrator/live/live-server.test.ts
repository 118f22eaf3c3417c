import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { FloodRunEvents } from '../run/flood-run.ts';
import { noErrors, testSample } from '../run/test-sample.ts';
import { startLivePage } from './live-server.ts';
import { renderChartsPage } from './live-page.ts';

const MiB = 1024 * 1024;
const START = 1_800_000_000_000;
const sample = (t: number, conns: number, phase = 'ramp', loadgenDown?: string) =>
  testSample({
    t, startMs: START, phase, target: 100, conns,
    client: { chunks: conns * t, errorsByCause: { ...noErrors(), refused: t } },
    components: [
      { name: 'server', role: 'server', up: true, workingSetBytes: 50 * MiB + conns * 5000, cpuSeconds: t / 2 },
      loadgenDown ? { name: 'loadgen-1', role: 'loadgen', up: false, exited: loadgenDown } : { name: 'loadgen-1', role: 'loadgen', up: true, workingSetBytes: 40 * MiB, cpuSeconds: t / 4 },
    ],
    kernelTcpBytes: conns * 4096,
  });

/** Reads Server-Sent Events from `url` until `until` says stop; returns them as {event, data}. */
function readEvents(url: string, until: (evs: Array<{ event: string; data: any }>) => boolean): Promise<Array<{ event: string; data: any }>> {
  return new Promise((resolve, reject) => {
    const evs: Array<{ event: string; data: any }> = [];
    const req = http.get(url, (res) => {
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => {
        buf += d;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          const data = /^data: (.*)$/m.exec(frame)?.[1];
          if (event) evs.push({ event, data: JSON.parse(data!) });
        }
        if (until(evs)) {
          req.destroy();
          resolve(evs);
        }
      });
    });
    req.on('error', reject);
    setTimeout(() => {
      req.destroy();
      reject(new Error(`timed out with ${JSON.stringify(evs)}`));
    }, 5000);
  });
}

test('a page opened mid-run gets the history first, then each sample, phase change, error and the end', async (t) => {
  const live = await startLivePage({ points: { heartbeatSeconds: 1 } });
  t.after(() => live.close());
  const run = new EventEmitter<FloodRunEvents>();
  live.attach(run);
  run.emit('phase', { name: 'up', atMs: START, t: 0 });
  run.emit('sample', sample(0, 0, 'up'));
  run.emit('phase', { name: 'ramp', atMs: START + 500, t: 0.5 });
  run.emit('sample', sample(1, 40));
  const got = readEvents(live.url + 'events', (evs) => evs.some((e) => e.event === 'done'));
  await new Promise((r) => setTimeout(r, 100));
  run.emit('sample', sample(2, 100));
  // A phase that began between two samples: a mark at its own time, no invented point.
  run.emit('phase', { name: 'hold', atMs: START + 2600, t: 2.6 });
  run.emit('error', { atMs: START + 2700, component: 'loadgen-1', code: 'LAB_ERR_COMPONENT_DIED', message: 'loadgen-1 exited with code 1' });
  run.emit('sample', sample(3, 100, 'hold', 'exited with code 1'));
  run.emit('done', { incomplete: 'loadgen-1 died', phases: [], startedAtMs: START, endedAtMs: START + 4000, components: [], final: { loadgens: {} }, interrupted: false, errors: [] });
  const evs = await got;

  assert.deepEqual(evs.map((e) => e.event), ['history', 'sample', 'phase', 'run-error', 'sample', 'done']);
  assert.deepEqual(evs[0]!.data.points.map((p: any) => [p.t, p.server]), [[0, 0], [1, 40]]);
  assert.deepEqual(evs[0]!.data.phases, [{ name: 'up', t: 0 }, { name: 'ramp', t: 0.5 }]);
  assert.equal(evs[1]!.data.server, 100);
  assert.deepEqual(evs[2]!.data, { name: 'hold', t: 2.6 });
  assert.equal(evs[3]!.data.message, 'loadgen-1 exited with code 1');
  const last = evs[4]!.data;
  assert.deepEqual(last.down, { 'loadgen-1': 'exited with code 1' });
  assert.equal(last.mem['loadgen-1'], undefined, 'no memory for a dead component');
  assert.equal(last.perConn.server, 5000, '5000 bytes per connection above the first sample');
  assert.deepEqual(last.chunks, { received: 100, expected: 100 }, 'chunks/s between the last two samples, and held / heartbeat');
  assert.equal(last.cpu.server, 0.5, 'cores: CPU seconds over sample seconds');
  assert.deepEqual(last.errors, { refused: 3 }, 'only causes that occurred');
  assert.deepEqual(evs[5]!.data, { incomplete: true, reason: 'loadgen-1 died' });

  const json: any = await (await fetch(live.url + 'points.json')).json();
  assert.equal(json.points.length, 4);
  assert.deepEqual(json.points.map((p: any) => p.t), [0, 1, 2, 3], 'time only moves forward');
  assert.equal(json.phases.length, 3);
  assert.equal(json.done.incomplete, true);
});

test('the page is self-contained: uPlot inlined, no external script or stylesheet', async (t) => {
  const live = await startLivePage({ title: 'a <run>' });
  t.after(() => live.close());
  const res = await fetch(live.url);
  assert.equal(res.status, 200);
  const html = await res.text();
  assert.match(html, /<title>a &lt;run&gt;<\/title>/);
  assert.ok(html.includes('uPlot'), 'uPlot is in the page');
  const external = /<script[^>]+src=|<link[^>]+href=|url\(\s*['"]?https?:|(src|href)\s*=\s*["']?https?:/i.exec(html);
  assert.equal(external, null, 'no external resource');
  assert.equal((await fetch(live.url + 'nope')).status, 404);
  assert.equal((await fetch(live.url, { method: 'POST' })).status, 405);
  await assert.rejects(startLivePage({ port: live.port }), (err: any) => err.code === 'LAB_ERR_LIVE_LISTEN' && /--live-port/.test(err.hint));
});

test('the static page for report.html embeds its points and cannot be broken out of by data', () => {
  const html = renderChartsPage({ title: 'report', live: false, run: { points: [{ t: 1, phase: '</script><b>', target: 1, server: 1, client: 1, mem: {}, cpu: {}, perConn: {}, errors: {}, down: {}, roles: {} }], phases: [], done: {} } });
  assert.match(html, /data-live="0"/);
  assert.ok(!html.includes('</script><b>'));
  assert.ok(html.includes('\\u003c/script>\\u003cb>'));
});
