/**
 * The terminal view of a run: on a TTY, a progress bar (connections of N, connect rate, memory of the server and
 * of the load generators, ETA, phase); elsewhere (CI, pipes) one plain line per phase and one every 10 samples.
 * Memory shown is working set plus kernel socket memory charged to the component, where the probe has it.
 */
import cliProgress from 'cli-progress';
import type { RunSample } from '../run/sample.ts';
import type { RunOutcome } from '../run/outcome.ts';
import type { RunListenerFactory } from './listener.ts';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

function memoryByRole(s: RunSample): { server: number; loadgen: number } {
  const out = { server: 0, loadgen: 0 };
  for (const c of s.components) out[c.role] += (c.workingSetBytes ?? 0) + (c.kernelSocketBytes ?? 0);
  return out;
}

export const progress: RunListenerFactory = (run, ctx) => {
  const tty = Boolean((ctx.stderr as { isTTY?: boolean }).isTTY);
  const n = ctx.plan.n;
  let bar: cliProgress.SingleBar | undefined;
  let prev: RunSample | undefined;
  let rate = 0;
  let count = 0;
  const line = (text: string) => ctx.stderr.write(`${text}\n`);

  const onPhase = (p: { name: string; t: number }) => {
    if (bar && p.name !== 'ramp' && p.name !== 'hold') {
      bar.stop();
      bar = undefined;
    }
    if (tty && p.name === 'ramp') {
      bar = new cliProgress.SingleBar(
        {
          format: '{phase} |{bar}| {value}/{total} conns | {rate}/s | server {server} | loadgens {loadgen} | ETA {eta_formatted}',
          stream: ctx.stderr as NodeJS.WriteStream,
          hideCursor: true,
          etaBuffer: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(n, 0, { phase: 'ramp', rate: 0, server: '-', loadgen: '-' });
    } else if (!bar) {
      line(`[${p.t.toFixed(1)}s] phase ${p.name}`);
    }
  };
  const onSample = (s: RunSample) => {
    const conns = s.connections.client ?? 0;
    if (prev && s.t > prev.t) rate = Math.max(0, Math.round((conns - (prev.connections.client ?? 0)) / (s.t - prev.t)));
    prev = s;
    const mem = memoryByRole(s);
    if (bar) {
      bar.update(Math.min(conns, n), { phase: s.phase, rate, server: mib(mem.server), loadgen: mib(mem.loadgen) });
    } else if (count++ % 10 === 0) {
      line(`[${s.t.toFixed(1)}s] ${s.phase}: client ${conns}/${n}, server ${s.connections.server ?? '?'}, ${rate}/s, server ${mib(mem.server)}, loadgens ${mib(mem.loadgen)}, kernel TCP ${mib(s.kernelTcpBytes)}`);
    }
  };
  const onError = (e: { message: string }) => {
    if (bar) bar.stop();
    bar = undefined;
    line(`error: ${e.message}`);
  };
  const onDone = (o: RunOutcome) => {
    bar?.stop();
    bar = undefined;
    line(o.incomplete ? `run incomplete: ${o.incomplete}` : `run complete in ${((o.endedAtMs - o.startedAtMs) / 1000).toFixed(1)}s`);
  };
  run.on('phase', onPhase);
  run.on('sample', onSample);
  run.on('error', onError);
  run.on('done', onDone);
  return {
    close() {
      bar?.stop();
      run.off('phase', onPhase);
      run.off('sample', onSample);
      run.off('error', onError);
      run.off('done', onDone);
    },
  };
};
