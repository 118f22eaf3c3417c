// The live page and report.html in Debian's Chromium (playwright-core, never a downloaded browser), from real floods
// started by the real CLI (`lab flood --live-port 0`). First a complete flood with sends and a broadcast: the live
// page is followed while it runs, then report.html is opened; each is checked for what a reader needs (every chart
// has data, y axes from 0, time never backwards, phases marked once each, the headline card's figures equal to
// summary.json's). Then a flood whose load generator is killed: the page says which component is down and that the
// run ended incomplete. Screenshots are kept in test-artifacts/ (gitignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { processTree } from '../backends/probes/process-tree.ts';
import { assertCharts, assertHeadlineCard, assertPhases, chartFacts, openBrowser } from './page-checks.ts';
import { waitFor } from '../../shared/testing/wait-for.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const ARTIFACTS = path.join(REPO, 'test-artifacts');
export const TIME_CHARTS = ['connections', 'memory', 'perConnection', 'chunks', 'messages', 'latency', 'errors', 'cpu'];

/** The connections chart's data, read from the uPlot instance the page draws (what the chart shows). */
const chartSeries = (page: Page, label: string): Promise<number[]> =>
  page.evaluate((l) => (globalThis as any).cometLab.series('connections', l).filter((v: unknown) => typeof v === 'number'), label);

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

/** Runs the CLI in its own process group; stops it with SIGINT (its orderly teardown) if a test leaves it running. */
function startCli(t: { after: (fn: () => Promise<void>) => void }, args: string[]) {
  // --wait-busy: one flood per host; another engineer's flood on a shared machine delays this one instead of failing it.
  const cli = spawn(path.join(REPO, 'node_modules/.bin/node'), ['orchestrator/cli.ts', 'flood', '--wait-busy', '120s', ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const out = { stdout: '', stderr: '' };
  cli.stdout.on('data', (d: Buffer) => (out.stdout += d));
  cli.stderr.on('data', (d: Buffer) => (out.stderr += d));
  const exited = new Promise<number | null>((resolve) => cli.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (cli.exitCode === null) {
      process.kill(cli.pid!, 'SIGINT');
      const timer = setTimeout(() => process.kill(-cli.pid!, 'SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    }
  });
  return { cli, out, exited };
}

test('a complete flood: the live page follows it, then report.html shows it; both as a reader needs them', async (t) => {
  await mkdir(ARTIFACTS, { recursive: true });
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'comet-lab-pages-'));
  // Chromium first, then its folder, in one hook: a folder removed while Chromium still had it open was left behind
  // by every run (the two were separate hooks, the removal first).
  let closeBrowser = async () => {};
  t.after(async () => {
    await closeBrowser();
    await rm(tmp, { recursive: true, force: true });
  });
  // 600 connections at 300/s, a 1 s heartbeat, 5 s of hold, 3 s of sends and a broadcast: every chart gets data.
  const { out, exited } = startCli(t, ['--n', '600', '--rate', '300', '--hold', '5s', '--interval', '1s', '--backend', 'local', '--workers', '1',
    '--loadgen-procs', '1', '--sends-rate', '100', '--sends-duration', '3s', '--broadcast', '--live-port', '0', '--no-metrics', '--json', '--out', tmp]);
  const liveUrl = await waitFor('the live page address on stderr', async () => /live page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out.stderr)?.[1], 150_000);
  const { context, page, external, pageErrors } = await openBrowser(path.join(tmp, 'chromium'));
  closeBrowser = () => context.close();
  await page.goto(liveUrl);
  await waitFor('the hold on the live page', async () => (await page.textContent('#phase')) === 'hold', 30_000);
  await waitFor('the end of the run on the live page', async () => (await page.textContent('#phase')) === 'finished', 60_000);
  assertCharts(await chartFacts(page), TIME_CHARTS);
  await assertPhases(page);
  assert.equal(Math.max(...(await chartSeries(page, 'target N'))), 600);
  assert.equal(Math.max(...(await chartSeries(page, 'server (/stats)'))), 600);
  await page.screenshot({ path: path.join(ARTIFACTS, 'live-page.png'), fullPage: true });

  assert.equal(await exited, 0, `the flood completed\n${out.stderr}`);
  const report = JSON.parse(out.stdout.trim().split('\n').at(-1)!) as { event: string; dir: string; summary: any };
  assert.equal(report.event, 'report');
  const summary = JSON.parse(readFileSync(path.join(report.dir, 'summary.json'), 'utf8'));
  assert.deepEqual(report.summary, summary, 'the --json report line is summary.json');
  await page.goto(`file://${path.join(report.dir, 'report.html')}`);
  const tiles = await assertHeadlineCard(page, summary);
  assert.ok(tiles >= 8, `${tiles} figures on the card, sends and fan-out among them`);
  assert.equal(await page.getAttribute('#headline .verdict', 'data-text'), 'passed');
  assertCharts(await chartFacts(page), [...TIME_CHARTS, 'xy0', 'xy1']);
  await assertPhases(page);
  assert.equal(await page.textContent('#phase'), 'finished', 'a finished run does not show the phase it was in');
  assert.equal(await page.locator('#details table').count() > 3, true, 'report.md tables rendered as HTML tables');
  assert.equal(await page.locator('#details pre').count(), 0, 'no raw markdown');
  assert.doesNotMatch((await page.textContent('#details')) ?? '', /\*\*|\| ---/, 'no markdown syntax left in the text');
  await page.screenshot({ path: path.join(ARTIFACTS, 'report-html.png'), fullPage: true });
  assert.deepEqual(external, [], 'no request left the machine');
  assert.deepEqual(pageErrors, [], 'no script error on either page');
});

test('the live page charts a growing connection count in Chromium, and shows which component died', async (t) => {
  await mkdir(ARTIFACTS, { recursive: true });
  const userData = await mkdtemp(path.join(os.tmpdir(), 'comet-lab-chromium-'));
  let closeBrowser = async () => {}; // Chromium first, then its folder (as above)
  t.after(async () => {
    await closeBrowser();
    await rm(userData, { recursive: true, force: true });
  });

  // A slow ramp (400 at 60/s, about 7 s) so the page sees several samples while the count climbs.
  const { cli, out, exited } = startCli(t, ['--n', '400', '--rate', '60', '--hold', '20s', '--interval', '1s', '--backend', 'local',
    '--workers', '1', '--loadgen-procs', '1', '--live-port', '0', '--no-metrics', '--json', '--no-report']);
  const liveUrl = await waitFor('the live page address on stderr', async () => /live page: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out.stderr)?.[1], 150_000);
  const { context, page, external, pageErrors } = await openBrowser(userData);
  closeBrowser = () => context.close();
  await page.goto(liveUrl);

  // The chart's server and client series climb: at least 4 distinct rising values before N is reached.
  const climbing = await waitFor('the connections chart to climb', async () => {
    const server = await chartSeries(page, 'server (/stats)');
    const client = await chartSeries(page, 'client (load generators)');
    const rising = (xs: number[]) => xs.filter((v, i) => i > 0 && v > xs[i - 1]!).length;
    return rising(server) >= 4 && rising(client) >= 4 && Math.max(...client) >= 200 ? { server, client } : undefined;
  }, 60_000);
  assert.ok(climbing.server.every((v, i) => i === 0 || v >= climbing.server[i - 1]! - 5), `server series mostly non-decreasing: ${climbing.server}`);
  assert.equal(Math.max(...(await chartSeries(page, 'target N'))), 400);
  await waitFor('the hold phase on the page', async () => (await page.textContent('#phase')) === 'hold', 30_000);
  await waitFor('the chart to reach N', async () => Math.max(...(await chartSeries(page, 'server (/stats)'))) === 400, 10_000);
  const memSeries = await page.evaluate(() => (globalThis as any).cometLab.labels('memory'));
  assert.ok(memSeries.includes('server') && memSeries.includes('loadgen-1'), `memory chart per component: ${memSeries}`);
  const perConn = await page.evaluate(() => (globalThis as any).cometLab.series('perConnection', 'server').filter((v: unknown) => typeof v === 'number'));
  assert.ok(perConn.length > 0 && perConn.at(-1) > 0, 'memory per connection is charted');

  // A load generator dies mid-run: the page names it, says why, and shows the run ended incomplete.
  const victim = loadgenPid(cli.pid!);
  assert.ok(victim, 'found the load generator process');
  process.kill(victim, 'SIGKILL');
  await waitFor('the dead component on the page', async () => (await page.locator('tr.down[data-component="loadgen-1"]').count()) === 1, 15_000);
  assert.match((await page.textContent('tr[data-component="loadgen-1"] td:nth-child(3)')) ?? '', /^DOWN: /);
  assert.equal(await page.textContent('tr[data-component="server"] td:nth-child(3)'), 'up');
  await waitFor('the incomplete end on the page', async () => (await page.textContent('#phase')) === 'ended: incomplete', 30_000);
  assert.match((await page.textContent('#errors')) ?? '', /loadgen-1/);
  await page.screenshot({ path: path.join(ARTIFACTS, 'live-page-component-down.png'), fullPage: true });

  assert.equal(await exited, 1, `the CLI exits 1 (run incomplete)\n${out.stderr}`);
  assert.deepEqual(external, [], 'no request left the machine');
  assert.deepEqual(pageErrors, [], 'no script error on the page');
  assert.match(out.stdout, /"event":"done"/);
});
