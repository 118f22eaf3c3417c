/**
 * Test support: what `docker stats --no-stream` prints, as the independent reading the Docker tests check the lab's
 * memory figures against, and a way to compare the two at the same moment.
 *
 * Measured here (Docker 28 CLI, engine 20.10, cgroup v1): one `docker stats --no-stream` takes 2.5 s and prints the
 * memory of the END of that window. A comet-lab server drops 12-15 MiB a few seconds after a ramp, when its idle
 * full GC runs (server/worker/idle-gc.ts): Engine API one-shot 86.6 MiB, then `docker stats` 72.5 MiB, then the API
 * again 73.2 MiB, all within 3 s. A probe read before or after that window therefore disagreed by 15-20% whenever
 * the GC fell inside it, which is what failed on a fresh machine (its timing differs from a warm one). Between GCs
 * the server's memory also climbs 1-2 MiB a second at a 1 s heartbeat. So the lab's figure is read again and again
 * through the CLI's window, and `docker stats` must lie among those readings.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);
const UNITS: Record<string, number> = { B: 1, KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, kB: 1e3, MB: 1e6, GB: 1e9 };

/**
 * MEM USAGE by container name, as `docker stats --no-stream` prints it, for the names given (or all running), of
 * the local engine or of the engine at `host` (`-H unix:///...`: another swarm node's).
 */
export async function dockerStatsCli(names: string[] = [], host?: string): Promise<Map<string, number>> {
  const { stdout } = await run('docker', [...(host ? ['-H', host] : []), 'stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', ...names], { timeout: 30_000 });
  const out = new Map<string, number>();
  for (const line of stdout.trim().split('\n')) {
    const m = /^(\S+) ([\d.]+)\s*([KMG]i?B|B) /.exec(line);
    if (m) out.set(m[1]!, Number(m[2]) * UNITS[m[3]!]!);
  }
  return out;
}

/** `docker stats` of one container, and the lab's own reading of it taken over and over during the CLI's window. */
export interface WindowedReading {
  cli: number;
  min: number; // lowest and highest of the lab's readings within the window
  max: number;
  readings: number;
}

/**
 * Runs `docker stats` for one container while reading `probe` (the lab's figure for it) every 200 ms, until the
 * lab's readings spread no more than `still` across the window or `attempts` run out; returns the steadiest window.
 * `docker stats` prints the memory of one moment inside its window, so a right probe's readings surround it.
 */
export async function windowedDockerStats(name: string, probe: () => Promise<number>, attempts = 8, still = 0.05, host?: string): Promise<WindowedReading> {
  let best: WindowedReading | undefined;
  for (let i = 0; i < attempts; i++) {
    let r: WindowedReading;
    try {
      const seen: number[] = [await probe()];
      let running = true;
      const cliDone = dockerStatsCli([name], host).finally(() => (running = false));
      while (running) {
        await new Promise((res) => setTimeout(res, 200));
        seen.push(await probe());
      }
      const cli = (await cliDone).get(name);
      if (cli === undefined) throw new Error(`docker stats printed nothing for ${name}`);
      r = { cli, min: Math.min(...seen), max: Math.max(...seen), readings: seen.length };
    } catch (err) {
      if (best) return best; // the container went away (its run ended): the steadiest window so far
      throw err;
    }
    if (!best || r.max / r.min < best.max / best.min) best = r;
    if (r.max / r.min - 1 <= still) break;
  }
  return best!;
}

/** Whether `cli` lies within the lab's readings of the same window, give or take 2% or 1 MiB (rounding, jitter). */
export function withinWindow(cli: number, min: number, max: number): boolean {
  const slack = (v: number) => Math.max(0.02 * v, 2 ** 20);
  return cli >= min - slack(min) && cli <= max + slack(max);
}
