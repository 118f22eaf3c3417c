/**
 * A real flood of a server that sends no heartbeat (nginx-idle: nginx holding idle keep-alive connections, 300 of
 * them): summary.json says heartbeat chunks do not apply and why, report.md and report.html say the same (not "the
 * hold was too short"), while the chunks the load generators counted are still given. The same run's exporter labels
 * lab_run_info with the target it measures (nginx-idle), not comet-lab.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { resolveFloodConfig } from '../config/flood-config.ts';
import { flood, type FloodResult } from '../flood.ts';
import type { RunSample } from '../run/sample.ts';
import type { SummaryV1 } from './summary-schema.ts';

const N = 300;
const out = mkdtempSync(join(tmpdir(), 'comet-lab-no-heartbeat-'));
after(() => rmSync(out, { recursive: true, force: true }));

let result: FloodResult;
let metrics: Promise<string> | undefined;

before(async () => {
  const stderr = new PassThrough();
  let said = '';
  stderr.on('data', (d: Buffer) => (said += d.toString()));
  const config = resolveFloodConfig({
    n: String(N), backend: 'local', target: 'nginx-idle', rate: '1000', holdSeconds: '3s', intervalSeconds: '1s', sampleSeconds: '500ms',
    out, stallSeconds: '15s', livePort: false, metricsPort: '0',
  });
  result = await flood(config, { stdout: new PassThrough().resume(), stderr, env: {} }, {
    onRun(run) {
      run.on('sample', (s: RunSample) => {
        if (s.phase !== 'hold' || metrics) return;
        const url = /metrics: (http:\/\/\S+)/.exec(said)?.[1];
        if (url) metrics = fetch(url.endsWith('/metrics') ? url : `${url.replace(/\/$/, '')}/metrics`).then((r) => r.text());
      });
    },
  });
}, { timeout: 120_000 });

test('a server without heartbeat: chunks do not apply, the report says why, the chunks received are still counted', () => {
  assert.equal(result.exitCode, 0);
  const doc = JSON.parse(readFileSync(join(result.reportDir!, 'summary.json'), 'utf8')) as SummaryV1;
  assert.equal(doc.target.supports.heartbeat, false);
  assert.equal(doc.chunks.applies, false);
  assert.match(doc.chunks.note!, /this server sends no heartbeat \(nginx-idle\)/);
  assert.equal(doc.chunks.expected, undefined);
  assert.equal(doc.chunks.deliveredPct, undefined);
  assert.ok(doc.chunks.holdSeconds! >= 2, `hold ${doc.chunks.holdSeconds} s`);
  // nginx writes nothing on an idle keep-alive connection: nothing arrives over the hold.
  assert.equal(doc.chunks.received, 0);
  const md = readFileSync(join(result.reportDir!, 'report.md'), 'utf8');
  const chunks = /## Chunks\n\n(.*)\n/.exec(md)![1]!;
  assert.match(chunks, /^No expected count: this server sends no heartbeat \(nginx-idle\)/);
  assert.doesNotMatch(chunks, /heartbeat interval/);
  const html = readFileSync(join(result.reportDir!, 'report.html'), 'utf8');
  const tile = /<div class="tile[^"]*"[^>]*><div class="label">heartbeat chunks delivered<\/div><div class="value">([^<]*)<\/div><div class="detail">([^<]*)<\/div>/.exec(html);
  assert.ok(tile, 'the chunks tile');
  assert.equal(tile[1], 'n/a');
  assert.match(tile[2]!, /this server sends no heartbeat/);
  assert.doesNotMatch(html, /the hold was too short/);
});

test("the exporter's lab_run_info names the target the run measures", async () => {
  assert.ok(metrics, 'the exporter was scraped during the hold');
  const text = await metrics;
  const info = text.split('\n').filter((l) => l.startsWith('lab_run_info{'));
  assert.equal(info.length, 1, text.slice(0, 2000));
  assert.match(info[0]!, /target="nginx-idle"/);
  assert.match(info[0]!, /backend="local"/);
});
