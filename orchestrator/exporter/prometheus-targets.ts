/**
 * The file_sd targets file a local run writes for dashboards/prometheus/prometheus.local.yml: the server, every load
 * generator's control port and the orchestrator's exporter, each with the `job` label the dashboard queries use
 * (server, loadgen, lab). One file per run (named by pid), removed at the end; Prometheus re-reads the folder by
 * itself, so a Prometheus started before or after the flood finds it.
 */
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ComponentRole } from '../backends/backend.ts';
import { pidAlive } from '../../shared/pid-alive.ts';

/** Where prometheus.local.yml looks (`../../.lab/prometheus/*.json` from the config's own folder), whatever the cwd. */
export const DEFAULT_TARGETS_DIR = fileURLToPath(new URL('../../.lab/prometheus', import.meta.url));

export interface ScrapeTarget {
  name: string; // server, loadgen-1, lab
  role: ComponentRole | 'lab';
  url: string; // base URL (http://127.0.0.1:8000) or the full metrics URL
}

interface TargetGroup {
  targets: string[];
  labels: Record<string, string>;
}

/** The file_sd target groups for these targets (one group per target, so each carries its own labels). */
export function targetGroups(targets: ScrapeTarget[], run: string): TargetGroup[] {
  return targets.map((t) => {
    const u = new URL(t.url);
    return {
      targets: [u.host],
      // The exporter's own series carry `component` (the component they describe): a target label of the same name
      // would push theirs aside into `exported_component`, so the lab target has none.
      labels: { job: t.role, ...(t.role === 'lab' ? {} : { component: t.name }), run, ...(u.pathname !== '/' ? { __metrics_path__: u.pathname } : {}) },
    };
  });
}

/**
 * Removes the files of runs whose process is gone (killed with SIGKILL, so it could not remove its own): their
 * targets would otherwise stay in Prometheus as down forever.
 */
export async function removeStaleTargetsFiles(dir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(/^run-(\d+)\.json$/.exec(name)?.[1]);
    if (pid > 0 && pid !== process.pid && !pidAlive(pid)) {
      await rm(path.join(dir, name), { force: true });
      removed.push(name);
    }
  }
  return removed;
}

/** Writes (atomically: Prometheus may read at any moment) `<dir>/run-<pid>.json`; returns its path. */
export async function writeTargetsFile(dir: string, targets: ScrapeTarget[], run = `run-${process.pid}`): Promise<string> {
  await mkdir(dir, { recursive: true });
  await removeStaleTargetsFiles(dir);
  const file = path.join(dir, `${run}.json`);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, JSON.stringify(targetGroups(targets, run), null, 2) + '\n');
  await rename(tmp, file);
  return file;
}

export async function removeTargetsFile(file: string): Promise<void> {
  await rm(file, { force: true });
}
