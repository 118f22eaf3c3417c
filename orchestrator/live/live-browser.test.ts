// The live page in Debian's Chromium (playwright-core, never a downloaded browser) during a real flood started by the
// real CLI (`lab flood --live-port 0`): its connections chart must grow while the ramp runs; then a load generator is
// killed, and the page must say which component is down and that the run ended incomplete. Screenshots of both
// moments are kept in test-artifacts/ (gitignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { processTree } from '../backends/probes/process-tree.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const ARTIFACTS = path.join(REPO, 'test-artifacts');
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** The connections chart's data, read from the uPlot instance the page draws (what the chart shows). */
const chartSeries = (page: Page, label: string): Promise<number[]> =>
  page.evaluate((l) => (globalThis as any).cometLab.series('connections', l).filter((v: unknown) => typeof v === 'number'), label);

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The top load-generator process under the CLI (its children, if any, are its own procs). */
function loadgenPid(cliPid: number): number | undefined {
  const cmd = (pid: number) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').join(' ');
    } catch {
      return '';
    }
  };
  const tree = processTree(cliPid);
  const lgs = tree.filter((p) => cmd(p.pid).includes('loadgen/cli.ts'));
  return lgs.find((p) => !lgs.some((q) => q.pid === p.ppid))?.pid;
}

test('the live page charts a growing connection count in Chromium, and shows which component died', async (t) => {
  await mkdir(ARTIFACTS, { recursive: true });
  const userData = await mkdtemp(path.join(os.tmpdir(), 'comet-lab-chromium-'));
  t.after(() => rm(userData, { recursive: true, force: true }));

  // A slow ramp (400 at 60/s, about 7 s) so the page sees several samples while the count climbs.
  const cli = spawn(
    path.join(REPO, 'node_modules/.bin/node'),
    ['orchestrator/cli.ts', 'flood', '--n', '400', '--rate', '60', '--hold', '20s', '--interval', '1s', '--backend', 'local',
      '--workers', '1', '--loadgen-procs', '1', '--live-port', '0', '--json', '--no-report'],
    { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let stdout = '';
  let stderr = '';
  cli.stdout.on('data', (d: Buffer) => (stdout += d));
  cli.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
  t.after(async () => {
    // SIGINT is the CLI's own orderly stop (teardown, cgroups removed); SIGKILL the group only if it hangs.
    if (cli.exitCode === null) {
      process.kill(cli.pid!, 'SIGINT');
      const timer = setTimeout(() => process.kill(-cli.pid!, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  });

  const liveUrl = await waitFor('the live page address on stderr', async () => /live page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stderr)?.[1], 30_000);

  const context: BrowserContext = await chromium.launchPersistentContext(userData, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1200, height: 1100 } });
  t.after(() => context.close());
  // The page must need nothing beyond the orchestrator: any other request is recorded and refused.
  const external: string[] = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.hostname === '127.0.0.1') return route.continue();
    external.push(u.href);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(liveUrl);

  // The chart's server and client series climb: at least 4 distinct rising values before N is reached.
  const climbing = await waitFor('the connections chart to climb', async () => {
    const server = await chartSeries(page, 'server');
    const client = await chartSeries(page, 'client');
    const rising = (xs: number[]) => xs.filter((v, i) => i > 0 && v > xs[i - 1]!).length;
    return rising(server) >= 4 && rising(client) >= 4 && Math.max(...client) >= 200 ? { server, client } : undefined;
  }, 60_000);
  assert.ok(climbing.server.every((v, i) => i === 0 || v >= climbing.server[i - 1]! - 5), `server series mostly non-decreasing: ${climbing.server}`);
  assert.equal(Math.max(...(await chartSeries(page, 'target'))), 400);
  await waitFor('the hold phase on the page', async () => (await page.textContent('#phase')) === 'hold', 30_000);
  await waitFor('the chart to reach N', async () => Math.max(...(await chartSeries(page, 'server'))) === 400, 10_000);
  const memSeries = await page.evaluate(() => (globalThis as any).cometLab.charts.memory.plot.series.map((s: any) => s.label));
  assert.ok(memSeries.includes('server') && memSeries.includes('loadgen-1'), `memory chart per component: ${memSeries}`);
  const perConn = await page.evaluate(() => (globalThis as any).cometLab.series('perConnection', 'server').filter((v: unknown) => typeof v === 'number'));
  assert.ok(perConn.length > 0 && perConn.at(-1) > 0, 'memory per connection is charted');
  await page.screenshot({ path: path.join(ARTIFACTS, 'live-page.png'), fullPage: true });

  // A load generator dies mid-run: the page names it, says why, and shows the run ended incomplete.
  const victim = loadgenPid(cli.pid!);
  assert.ok(victim, 'found the load generator process');
  process.kill(victim, 'SIGKILL');
  await waitFor('the dead component on the page', async () => (await page.locator('tr.down[data-component="loadgen-1"]').count()) === 1, 15_000);
  assert.match((await page.textContent('tr[data-component="loadgen-1"] td:nth-child(3)')) ?? '', /^DOWN: /);
  assert.equal(await page.textContent('tr[data-component="server"] td:nth-child(3)'), 'up');
  await waitFor('the incomplete end on the page', async () => /incomplete/.test((await page.textContent('#phase')) ?? ''), 30_000);
  assert.match((await page.textContent('#errors')) ?? '', /loadgen-1/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'live-page-component-down.png'), fullPage: true });

  assert.equal(await exited, 1, `the CLI exits 1 (run incomplete)\n${stderr}`);
  assert.deepEqual(external, [], 'no request left the machine');
  assert.deepEqual(pageErrors, [], 'no script error on the page');
  assert.match(stdout, /"event":"done"/);
});
