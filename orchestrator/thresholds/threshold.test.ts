/** Thresholds: the forms that parse, every comparison, fields that exist or not, and the config that carries them. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveFloodConfig } from '../config/flood-config.ts';
import { evaluateThresholds, fieldValue, parseThreshold, type Threshold } from './threshold.ts';
import { thresholdFields, thresholdProblems } from './summary-fields.ts';

test('parses <field><op><number> with spaces, signs, underscores and exponents; refuses the rest with the form', () => {
  assert.deepEqual(parseThreshold('server.kibPerConnection<6'), { text: 'server.kibPerConnection<6', field: 'server.kibPerConnection', op: '<', value: 6 });
  assert.deepEqual(parseThreshold(' chunks.deliveredPct >= 99.5 '), { text: 'chunks.deliveredPct >= 99.5', field: 'chunks.deliveredPct', op: '>=', value: 99.5 });
  assert.equal((parseThreshold('reached.server==50_000') as Threshold).value, 50000);
  assert.equal((parseThreshold('server.fit.slopeBytes<=6e3') as Threshold).value, 6000);
  assert.equal((parseThreshold('x.y!=-1') as Threshold).value, -1);
  for (const bad of ['server.kibPerConnection', '<6', 'a<<6', 'a<six', 'a=6', '6<a']) assert.match(parseThreshold(bad) as string, /does not parse/, bad);
});

test('evaluates every operator on the summary; a field the run did not measure fails', () => {
  const summary = { server: { kibPerConnection: 5 }, errors: { total: 0 }, sends: undefined };
  const t = (s: string) => parseThreshold(s) as Threshold;
  const r = evaluateThresholds(['server.kibPerConnection<6', 'server.kibPerConnection<=5', 'server.kibPerConnection>5', 'server.kibPerConnection>=6', 'errors.total==0', 'errors.total!=0', 'sends.sustainedRate>1'].map(t), summary);
  assert.deepEqual(r.map((x) => x.pass), [true, true, false, false, true, false, false]);
  assert.equal(r[6]!.note, 'not measured in this run');
  assert.equal(fieldValue({ a: { b: 'x' } }, 'a.b'), undefined, 'only numbers');
});

test('the fields a threshold may name come from summary.json\'s schema itself, and a field that is not one is refused with the near ones', () => {
  const fields = thresholdFields();
  for (const f of ['server.kibPerConnection', 'server.kibTotalPerConnection', 'server.connections', 'server.cpuMicrosPerChunk', 'chunks.deliveredPct', 'errors.total', 'errors.byCause.*', 'server.fit.slopeBytes', 'broadcast.fanOutMs', 'sends.sustainedRate', 'sends.delivery.p99Ms', 'cpu.seconds.*', 'loadgen.kibPerConnection']) {
    assert.ok(fields.includes(f), f);
  }
  assert.deepEqual(thresholdProblems(['server.kibPerConnection<6', 'cpu.seconds.loadgen-3<100', 'errors.byCause.timeout==0', 'sends.delivery.p99Ms<50']), []);
  const [p] = thresholdProblems(['server.kibPerConn<6']);
  assert.match(p!, /summary.json has no numeric field 'server.kibPerConn' \(did you mean .*server\.kibPerConnection/);
  assert.match(thresholdProblems(['target.name==1'])[0]!, /no numeric field 'target.name'/, 'a text field is not a number');
});

test('flags repeat, LAB_THRESHOLDS holds several separated by ;, every problem is reported with the others', () => {
  const c = resolveFloodConfig({ n: '10', thresholds: ['errors.total==0'] }, { LAB_THRESHOLDS: 'x<1' }, false);
  assert.deepEqual(c.thresholds, ['errors.total==0'], 'flags win over the environment');
  assert.deepEqual(resolveFloodConfig({ n: '10' }, { LAB_THRESHOLDS: 'errors.total==0; chunks.deliveredPct>=99' }, false).thresholds, ['errors.total==0', 'chunks.deliveredPct>=99']);
  assert.throws(() => resolveFloodConfig({ n: 'x', thresholds: ['nope<1', 'a<'] }, {}, false), (e: Error) => {
    assert.match(e.message, /--n must be an integer/);
    assert.match(e.message, /no numeric field 'nope'/);
    assert.match(e.message, /'a<' does not parse/);
    return true;
  });
});
