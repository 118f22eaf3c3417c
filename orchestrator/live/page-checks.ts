/**
 * What the browser tests check on the live page and on report.html, read from the page as Chromium drew it: each
 * chart's data and axis range from its uPlot instance, the legend as shown, the headline card's figures against
 * summary.json. Used by live-browser.test.ts (local backend) and pages-docker-browser.test.ts.
 */
import assert from 'node:assert/strict';
import { chromium, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

/** Debian's Chromium, headless, with every request off the machine refused and recorded in `external`. */
export async function openBrowser(userDataDir: string): Promise<{ context: BrowserContext; page: Page; external: string[]; pageErrors: string[] }> {
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS, viewport: { width: 1280, height: 1100 } });
  const external: string[] = [];
  await context.route('**/*', (route) => {
    const u = new URL(route.request().url());
    if (u.protocol === 'file:' || u.hostname === '127.0.0.1' || u.protocol === 'data:') return route.continue();
    external.push(u.href);
    return route.abort();
  });
  const page = context.pages()[0] ?? (await context.newPage());
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  return { context, page, external, pageErrors };
}

export interface ChartFacts {
  key: string;
  labels: string[];
  /** Non-null values per series. */
  counts: number[];
  yMin: number;
  yMax: number;
  /** x values in drawing order. */
  xs: number[];
  legend: string[];
}

/** Every chart of the page (time charts and the report's xy charts), as uPlot holds it. */
export function chartFacts(page: Page): Promise<ChartFacts[]> {
  return page.evaluate(() => {
    const lab = (globalThis as any).cometLab;
    return Object.keys(lab.charts).map((key) => {
      const plot = lab.charts[key].plot;
      return {
        key,
        labels: plot.series.slice(1).map((s: any) => s.label),
        counts: plot.data.slice(1).map((col: any[]) => col.filter((v) => v != null).length),
        yMin: plot.scales.y.min,
        yMax: plot.scales.y.max,
        xs: Array.from(plot.data[0] as number[]),
        legend: Array.from(plot.root.querySelectorAll('.u-legend .u-value')).map((e: any) => e.textContent),
      };
    });
  });
}

/** What a reader needs of the charts: each has data, y from 0, time never backwards, no `--` placeholder. */
export function assertCharts(facts: ChartFacts[], want: string[]): void {
  const keys = facts.map((f) => f.key);
  for (const k of want) assert.ok(keys.includes(k), `chart ${k} drawn (${keys.join(', ')})`);
  for (const f of facts) {
    assert.ok(f.counts.some((c) => c > 0), `chart ${f.key} has data: ${f.labels.map((l, i) => `${l}=${f.counts[i]}`).join(', ')}`);
    assert.equal(f.yMin, 0, `chart ${f.key}: y axis starts at 0`);
    assert.ok(f.yMax > 0, `chart ${f.key}: y axis spans its data`);
    assert.ok(!f.legend.some((v) => v.trim() === '--'), `chart ${f.key}: no '--' placeholder in the legend: ${f.legend.join(' | ')}`);
    if (!f.key.startsWith('xy')) {
      const back = f.xs.findIndex((x, i) => i > 0 && x < f.xs[i - 1]!);
      assert.equal(back, -1, `chart ${f.key}: time never runs backwards (${f.xs.slice(Math.max(0, back - 2), back + 2).join(', ')})`);
      assert.ok(f.xs[0]! >= 0, `chart ${f.key}: time since the start`);
    }
  }
}

/** Phase marks in order, each once, on the points' clock. */
export async function assertPhases(page: Page): Promise<Array<{ name: string; t: number }>> {
  const phases: Array<{ name: string; t: number }> = await page.evaluate(() => (globalThis as any).cometLab.phases.slice());
  const names = phases.map((p) => p.name);
  assert.equal(new Set(names).size, names.length, `each phase marked once: ${names.join(' ')}`);
  assert.ok(phases.every((p, i) => i === 0 || p.t >= phases[i - 1]!.t), `phases in time order: ${JSON.stringify(phases)}`);
  for (const want of ['ramp', 'hold']) assert.ok(names.includes(want), `phase ${want} marked: ${names.join(' ')}`);
  return phases;
}

const get = (o: unknown, path: string): unknown => path.split('.').reduce<any>((a, k) => (a == null ? undefined : a[k]), o);

/**
 * The headline card against summary.json: every tile that names a field carries that field's number, and shows it
 * rounded to the digits it prints; the verdict is the document's.
 */
export async function assertHeadlineCard(page: Page, summary: unknown): Promise<number> {
  const tiles: Array<{ field: string; value: string; text: string }> = await page.$$eval('#headline [data-field]', (els) =>
    els.map((e) => ({ field: e.getAttribute('data-field')!, value: e.getAttribute('data-value') ?? e.getAttribute('data-text') ?? '', text: (e.querySelector('.value') ?? e).textContent ?? '' })));
  assert.ok(tiles.length >= 5, `headline tiles: ${JSON.stringify(tiles)}`);
  for (const t of tiles) {
    const want = get(summary, t.field);
    if (t.field === 'run.verdict') {
      assert.equal(t.value, want);
      continue;
    }
    assert.equal(typeof want, 'number', `${t.field} is a number in summary.json`);
    assert.equal(Number(t.value), want, `${t.field}: the card's value is summary.json's`);
    const shown = /([\d,]+(?:\.(\d+))?)/.exec(t.text);
    assert.ok(shown, `${t.field}: a number is shown (${t.text})`);
    const digits = shown[2]?.length ?? 0;
    assert.ok(Math.abs(Number(shown[1]!.replace(/,/g, '')) - (want as number)) <= 0.5 * 10 ** -digits + 1e-9, `${t.field}: shows ${t.text} for ${want}`);
  }
  return tiles.length;
}
