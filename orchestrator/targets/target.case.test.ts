/**
 * One suite every local target passes (hono's common.case.test.ts, for servers under test): a real 2,000-connection
 * flood through the orchestrator's flood() with sends and a broadcast asked for, against comet-lab, nchan,
 * nginx-idle, mochiweb, a cmd: server written here, and a url: server started here with --server-pid. During the
 * hold the test reads the server's connections with `ss` and its memory from the cgroup files itself, and the
 * run's own sample must agree (connections within 1%, memory within 10%). Phases a target cannot do are skipped
 * with a line, never failed; afterwards nothing the lab started is left, and a url: server (not the lab's) still runs.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { resolveFloodConfig } from '../config/flood-config.ts';
import { flood, type FloodHooks } from '../flood.ts';
import type { LocalBackend } from '../backends/local/local-backend.ts';
import { parseMemoryStat } from '../backends/probes/memory-stat.ts';
import type { RunSample } from '../run/sample.ts';
import { canConnect } from './server-process.ts';

const N = 2000;
const NODE = process.execPath;
const CG_V1 = '/sys/fs/cgroup/memory';
const out = mkdtempSync(join(tmpdir(), 'comet-lab-targets-'));
after(() => rmSync(out, { recursive: true, force: true }));

/** The tiny server of the cmd: and url: cases: it listens on 127.0.0.1:<argv[2]>. */
const TINY_SERVER = fileURLToPath(new URL('./testing/tiny-chunked-server.mjs', import.meta.url));

const io = () => ({ stdout: new PassThrough().resume(), stderr: new PassThrough().resume(), env: {} as NodeJS.ProcessEnv });

/** Working set of a v1 group as docker stats counts it, read here from the files. */
function cgroupWorkingSet(dir: string): number {
  const usage = Number(readFileSync(join(dir, 'memory.usage_in_bytes'), 'latin1'));
  return usage - (parseMemoryStat(readFileSync(join(dir, 'memory.stat'), 'latin1')).get('total_inactive_file') ?? 0);
}

/** Established connections to `port` from the load generators' addresses (127.0.1.x), as `ss` lists them. */
function ssServerConnections(port: number): number {
  return execFileSync('ss', ['-Htn', 'state', 'established', `( sport = :${port} )`], { encoding: 'utf8', maxBuffer: 2 ** 26 })
    .split('\n')
    .filter((l) => l.trim().split(/\s+/).at(-1)?.startsWith('127.0.1.')).length;
}

interface Reading {
  sample: RunSample;
  ss: number;
  cgroupBytes: number;
  port: number;
  cgroupDir: string;
}

interface TargetCase {
  target: string;
  sends: boolean;
  broadcast: boolean;
  heartbeat: boolean;
  /** Where its memory is read: the lab's server cgroup (default) or a folder the case made. */
  cgroupDir?: () => string;
  serverPid?: () => number;
  setup?: () => Promise<void>;
  teardown?: () => Promise<void>;
  /** It is not the lab's: it must still run afterwards. */
  external?: () => ChildProcess;
}

let urlServer: ChildProcess | undefined;
const urlPort = 21000 + (process.pid % 4000);
const urlCgroup = join(CG_V1, `comet-lab-test-url-${process.pid}`);

const CASES: TargetCase[] = [
  { target: 'comet-lab', sends: true, broadcast: true, heartbeat: true },
  { target: 'nchan', sends: true, broadcast: true, heartbeat: false },
  { target: 'nginx-idle', sends: false, broadcast: false, heartbeat: false },
  { target: 'mochiweb', sends: false, broadcast: false, heartbeat: true },
  { target: `cmd:${NODE} ${TINY_SERVER} {port}`, sends: false, broadcast: false, heartbeat: false },
  {
    target: `url:http://127.0.0.1:${urlPort}/test/{i}`,
    sends: false,
    broadcast: false,
    heartbeat: false,
    // Started in a memory cgroup of its own, as a service or a container would be: the lab reads that group.
    async setup() {
      mkdirSync(urlCgroup, { recursive: true });
      urlServer = spawn('/bin/sh', ['-c', `echo $$ > ${urlCgroup}/cgroup.procs && exec ${NODE} ${TINY_SERVER} ${urlPort}`], { stdio: ['ignore', 'pipe', 'inherit'] });
      await once(urlServer.stdout!, 'data');
    },
    serverPid: () => urlServer!.pid!,
    cgroupDir: () => urlCgroup,
    external: () => urlServer!,
    async teardown() {
      urlServer?.kill('SIGKILL');
      if (urlServer) await once(urlServer, 'exit').catch(() => undefined);
      for (let i = 0; i < 50 && existsSync(urlCgroup); i++) {
        try {
          rmdirSync(urlCgroup);
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    },
  },
];

for (const c of CASES) {
  test(`target ${c.target.split(' ')[0]}: ${N} connections counted by the kernel, memory measured, phases it cannot do skipped; nothing left`, { timeout: 120_000 }, async () => {
    await c.setup?.();
    let reading: Reading | undefined;
    let runId = '';
    let readTask: Promise<void> = Promise.resolve();
    try {
      let holdSamples = 0;
      const hooks: FloodHooks = {
        onRun(run) {
          runId = (run.backend as LocalBackend).options.runId;
          run.on('sample', (s: RunSample) => {
            if (s.phase !== 'hold' || ++holdSamples !== 3) return;
            const server = run.backend.components().find((x) => x.role === 'server')!;
            const port = server.listen!.port;
            const cgroupDir = c.cgroupDir?.() ?? join(CG_V1, 'comet-lab', runId, 'server');
            readTask = Promise.resolve().then(() => {
              reading = { sample: s, ss: ssServerConnections(port), cgroupBytes: cgroupWorkingSet(cgroupDir), port, cgroupDir };
            });
          });
        },
      };
      const config = resolveFloodConfig({
        n: String(N), backend: 'local', rate: '2000', holdSeconds: '4s', intervalSeconds: '1s', sampleSeconds: '500ms', out, stallSeconds: '15s',
        sendsRate: '200', sendsSeconds: '2s', broadcast: true, livePort: false, metricsPort: false, target: c.target,
        serverPid: c.serverPid ? String(c.serverPid()) : undefined,
      });
      const result = await flood(config, io(), hooks);
      await readTask;
      const s = result.summary!;
      assert.equal(result.exitCode, 0, s.incomplete);
      assert.ok(reading, 'the test read ss and the cgroup during the hold');
      const r = reading!;

      // Connections: the kernel's count in the run's sample and ss read here agree; every planned connection held.
      assert.ok(Math.abs(r.sample.connections.server! - r.ss) <= N * 0.01, `lab ${r.sample.connections.server} vs ss ${r.ss}`);
      assert.ok(r.ss >= N * 0.99, `ss saw ${r.ss} of ${N}`);
      assert.match(s.server.connectionsCountedBy, /^kernel: /);
      if (c.target === 'comet-lab') assert.equal(s.server.reportedConnections, s.server.connections, "comet-lab's /stats cross-check agrees");
      else assert.equal(s.server.reportedConnections, undefined, 'no server API count for other servers');

      // Memory: the run's probe and the cgroup files read here agree within 10%.
      const ws = r.sample.components.find((x) => x.name === 'server')!.workingSetBytes!;
      assert.ok(Math.abs(ws - r.cgroupBytes) <= 0.1 * r.cgroupBytes, `lab ${ws} vs cgroup ${r.cgroupBytes}`);
      assert.equal(s.server.memoryMeasured, true);
      assert.ok(s.server.kibPerConnection! > 0.5 && s.server.kibPerConnection! < 100, `slope ${s.server.kibPerConnection} KiB`);

      // What it supports ran; what it does not was skipped with a line, not failed.
      const skipped = s.target.skipped.map((k) => k.phase).sort();
      assert.deepEqual(skipped, [...(c.broadcast ? [] : ['broadcast']), ...(c.sends ? [] : ['sends'])].sort());
      if (c.sends) assert.ok(s.sends!.messagesReceived > 0 && s.sends!.accepted! > 0, 'sends delivered');
      if (c.broadcast) assert.equal(s.broadcast?.complete, true, 'broadcast reached every connection');
      assert.equal(s.target.supports.heartbeat, c.heartbeat);
      if (c.heartbeat) assert.ok(s.chunks.deliveredPct! > 80, `chunks ${s.chunks.deliveredPct}%`);
      else assert.equal(s.chunks.deliveredPct, undefined, 'no heartbeat: no delivered %');
      const md = readFileSync(join(result.reportDir!, 'report.md'), 'utf8');
      assert.match(md, /## Server under test/);
      for (const k of s.target.skipped) assert.ok(md.includes(`Phase **${k.phase}** skipped`));

      // Nothing of the run is left; a server that is not the lab's still runs.
      assert.equal(existsSync(join(CG_V1, 'comet-lab', runId)), false, 'run cgroups removed');
      if (c.external) {
        assert.equal(c.external().exitCode, null, 'the url: server was not stopped by the lab');
        assert.equal(await canConnect('127.0.0.1', r.port), true);
      } else {
        assert.equal(await canConnect('127.0.0.1', r.port), false, 'the server the lab started is gone');
      }
    } finally {
      await c.teardown?.();
    }
  });
}

test('url: with neither --server-pid nor --server-container: connections still counted by the kernel, memory NOT MEASURED, said plainly', { timeout: 60_000 }, async () => {
  const port = urlPort + 1;
  const server = spawn(NODE, [TINY_SERVER, String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(server.stdout!, 'data');
  try {
    const config = resolveFloodConfig({
      n: '500', backend: 'local', rate: '500', holdSeconds: '2s', intervalSeconds: '1s', sampleSeconds: '500ms', out, stallSeconds: '15s',
      livePort: false, metricsPort: false, target: `url:http://127.0.0.1:${port}/test/{i}`,
    });
    const result = await flood(config, io());
    const s = result.summary!;
    assert.equal(result.exitCode, 0);
    assert.equal(s.server.connections, 500);
    assert.equal(s.server.memoryMeasured, false);
    assert.equal(s.server.kibPerConnection, undefined, 'no figure where nothing was measured');
    assert.match(s.target.memoryNote!, /^not measured: a url: target without --server-pid or --server-container/);
    const md = readFileSync(join(result.reportDir!, 'report.md'), 'utf8');
    assert.match(md, /- Memory: \*\*NOT MEASURED\*\*\. not measured: a url: target without --server-pid or --server-container/);
    assert.equal(server.exitCode, null, 'the lab leaves a server it did not start running');
  } finally {
    server.kill('SIGKILL');
  }
});
