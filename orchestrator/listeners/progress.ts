/**
 * The terminal view of a run: on a TTY, a progress bar (connections of N, connect rate, memory of the server and
 * of the load generators, then the ETA during the ramp and the time left during the hold); elsewhere (CI, pipes)
 * one plain line per phase and one every 10 samples. Memory shown is working set plus kernel socket memory charged
 * to the component, where the probe has it. cli-progress's own ETA is not used: it is computed from the bar's
 * value, which stops moving at N, so during the hold it printed `NFs` / `LLs` (NaN and Infinity cut to width).
 */
import cliProgress from 'cli-progress';
import type { PhaseEvent } from '../run/flood-run.ts';
import type { RunSample } from '../run/sample.ts';
import type { RunOutcome } from '../run/outcome.ts';
import type { RunListenerFactory } from './listener.ts';

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

/** `1m05s`, `42s`; a finite, non-negative number of seconds. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** What the bar says about time: the ramp's ETA at the current rate, the hold's time left, or nothing. */
export function timeLeft(phase: string, held: number, n: number, rate: number, holdSeconds: number, sincePhase: number): string {
  if (phase === 'ramp') return held >= n ? 'N reached' : rate > 0 ? `ETA ${formatDuration((n - held) / rate)}` : 'ETA -';
  if (phase === 'hold') return `${formatDuration(holdSeconds - sincePhase)} left`;
  return '';
}

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

  let phaseT = 0;
  const onPhase = (p: PhaseEvent) => {
    phaseT = p.t;
    if (bar && p.name !== 'ramp' && p.name !== 'hold') {
      bar.stop();
      bar = undefined;
    }
    if (tty && p.name === 'ramp') {
      bar = new cliProgress.SingleBar(
        {
          format: '{phase} |{bar}| {value}/{total} conns | {rate}/s | server {server} | loadgens {loadgen} | {left}',
          stream: ctx.stderr as NodeJS.WriteStream,
          hideCursor: true,
          etaBuffer: 5,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(n, 0, { phase: 'ramp', rate: 0, server: '-', loadgen: '-', left: '' });
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
      const left = timeLeft(s.phase, conns, n, rate, ctx.plan.holdSeconds, s.t - phaseT);
      bar.update(Math.min(conns, n), { phase: s.phase, rate, server: mib(mem.server), loadgen: mib(mem.loadgen), left });
    } else if (count++ % 10 === 0) {
      // Memory of each side (not the host's socket buffers: idle streams queue nothing, so that read 0 MiB).
      const errors = s.client?.errors ?? 0;
      line(`[${s.t.toFixed(1)}s] ${s.phase}: client ${conns}/${n}, server ${s.connections.server ?? '?'}, ${rate}/s, server ${mib(mem.server)}, loadgens ${mib(mem.loadgen)}, errors ${errors}`);
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
