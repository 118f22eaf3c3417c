/**
 * What a flood exposes while it runs, against the real local backend: the server it starts listens on loopback
 * addresses only (as `ss` shows its listening sockets), has a random token of
 * its own (a POST /broadcast without it is 401, a wrong one too), the orchestrator's own sends and broadcast carry it
 * (all accepted), whatever COMET_ADMIN_TOKEN the user's environment holds, and the token is written nowhere in the
 * report folder.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { resolveFloodConfig } from './config/flood-config.ts';
import { flood } from './flood.ts';
import type { RunSample } from './run/sample.ts';

const out = mkdtempSync(join(tmpdir(), 'comet-lab-security-'));
test.after(() => rmSync(out, { recursive: true, force: true }));

const filesUnder = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? filesUnder(join(dir, f)) : [join(dir, f)]));

test('a local flood\'s server needs the run\'s own random token; the orchestrator carries it; the report never holds it', async () => {
  const before = process.env.COMET_ADMIN_TOKEN;
  process.env.COMET_ADMIN_TOKEN = 'the-users-own'; // used to make the lab's own sends 401 (issue 17 #1)
  const seen: { anonymous?: number; wrong?: number; token?: string; listening?: string[] } = {};
  let probe: Promise<void> = Promise.resolve();
  try {
    const config = resolveFloodConfig({
      n: '300', backend: 'local', rate: '300', holdSeconds: '2s', intervalSeconds: '1s', out, livePort: false, metricsPort: false,
      sendsRate: '100', sendsSeconds: '2s', broadcast: true,
    });
    const r = await flood(config, { stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} }, {
      onRun(run) {
        let once = false;
        run.on('sample', (s: RunSample) => {
          if (s.phase !== 'hold' || once) return;
          once = true;
          const server = run.backend.components().find((c) => c.role === 'server')!;
          seen.token = server.token;
          const port = new URL(server.url).port;
          seen.listening = execFileSync('ss', ['-Hltn', `( sport = :${port} )`], { encoding: 'utf8' }).trim().split('\n').map((l) => l.trim().split(/\s+/)[3]!);
          probe = (async () => {
            seen.anonymous = (await fetch(`${server.url}/broadcast`, { method: 'POST', body: 'x' })).status;
            seen.wrong = (await fetch(`${server.url}/broadcast`, { method: 'POST', body: 'x', headers: { authorization: 'Bearer the-users-own' } })).status;
          })();
        });
      },
    });
    await probe;
    assert.equal(r.exitCode, 0, JSON.stringify(r.summary?.incomplete));
    // Listening only where the load generators connect (loopback), never on a wildcard address.
    assert.ok(seen.listening!.length > 0);
    for (const a of seen.listening!) assert.match(a, /^127\.\d+\.\d+\.\d+:\d+$/, `listens on ${a}`);
    assert.equal(seen.anonymous, 401);
    assert.equal(seen.wrong, 401);
    assert.ok(seen.token && seen.token.length >= 32 && seen.token !== 'the-users-own', 'a random token of the run');
    const s = r.summary!;
    assert.ok(s.sends!.accepted! > 0 && s.sends!.non2xx === 0, JSON.stringify(s.sends));
    assert.equal(s.broadcast!.complete, true, JSON.stringify(s.broadcast));
    for (const f of filesUnder(r.reportDir!)) assert.doesNotMatch(readFileSync(f, 'latin1'), new RegExp(seen.token!), `${f} holds the token`);
  } finally {
    if (before === undefined) delete process.env.COMET_ADMIN_TOKEN;
    else process.env.COMET_ADMIN_TOKEN = before;
  }
});
