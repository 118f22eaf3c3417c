import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { startLivePage } from './live-server.ts';
import { renderChartsPage } from './live-page.ts';

const MiB = 1024 * 1024;
const sample = (conns: number, phase = 'ramp', loadgenDown?: string) => ({
  atMs: Date.now(),
  t: 1,
  phase,
  target: 100,
  connections: { server: conns, client: conns },
  components: [
    { name: 'server', role: 'server', up: true, workingSetBytes: 50 * MiB + conns * 5000 },
    loadgenDown ? { name: 'loadgen-1', role: 'loadgen', up: false, exited: loadgenDown } : { name: 'loadgen-1', role: 'loadgen', up: true, workingSetBytes: 40 * MiB },
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
  const live = await startLivePage();
  t.after(() => live.close());
  const run = new EventEmitter();
  live.attach(run);
  run.emit('sample', sample(0, 'up'));
  run.emit('sample', sample(40));
  const got = readEvents(live.url + 'events', (evs) => evs.some((e) => e.event === 'done'));
  await new Promise((r) => setTimeout(r, 100));
  run.emit('sample', sample(100));
  run.emit('phase', { phase: 'hold' });
  run.emit('error', new Error('loadgen-1 exited with code 1'));
  run.emit('sample', sample(100, 'hold', 'exited with code 1'));
  run.emit('done', { incomplete: 'loadgen-1 died', phases: [] });
  const evs = await got;

  assert.deepEqual(evs.map((e) => e.event), ['history', 'sample', 'sample', 'run-error', 'sample', 'done']);
  assert.deepEqual(evs[0]!.data.map((p: any) => p.server), [0, 40]);
  assert.equal(evs[1]!.data.server, 100);
  assert.equal(evs[2]!.data.phase, 'hold', 'a phase change shows at once, before the next sample');
  assert.equal(evs[3]!.data.message, 'loadgen-1 exited with code 1');
  assert.deepEqual(evs[4]!.data.down, { 'loadgen-1': 'exited with code 1' });
  assert.equal(evs[4]!.data.mem['loadgen-1'], undefined, 'no memory for a dead component');
  // 5000 bytes per connection above the first sample's baseline.
  assert.equal(evs[4]!.data.perConn.server, 5000);
  assert.deepEqual(evs[5]!.data, { incomplete: true, reason: 'loadgen-1 died' });

  const json: any = await (await fetch(live.url + 'points.json')).json();
  assert.equal(json.points.length, 5);
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
  const html = renderChartsPage({ title: 'report', live: false, points: [{ t: 1, phase: '</script><b>', target: 1, server: 1, client: 1, mem: {}, perConn: {}, down: {}, roles: {} }] });
  assert.match(html, /data-live="0"/);
  assert.ok(!html.includes('</script><b>'));
  assert.ok(html.includes('\\u003c/script>\\u003cb>'));
});
