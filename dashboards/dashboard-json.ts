/**
 * Reads the Grafana dashboard JSON the way the tests need it: every panel target with its PromQL, and Grafana's own
 * interval variables replaced by what Grafana would put there, so the expression can be run against Prometheus.
 */
import { readFileSync } from 'node:fs';

export const DASHBOARD_FILE = new URL('./grafana/dashboards/comet-lab.json', import.meta.url);

export interface PanelQuery {
  panel: string; // panel title
  refId: string;
  legend: string;
  expr: string; // as written in the JSON
}

export function loadDashboard(file: URL | string = DASHBOARD_FILE): any {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Every target of every panel, rows included (a collapsed row keeps its panels inside it). */
export function panelQueries(dashboard: any): PanelQuery[] {
  const out: PanelQuery[] = [];
  const visit = (panels: any[]) => {
    for (const p of panels ?? []) {
      if (p.type === 'row') visit(p.panels);
      for (const t of p.targets ?? []) out.push({ panel: p.title, refId: t.refId, legend: t.legendFormat ?? '', expr: t.expr });
    }
  };
  visit(dashboard.panels);
  return out;
}

/**
 * Grafana replaces `$__rate_interval` (at least four scrape intervals) and `$__interval` before sending a query;
 * with the lab's one-second scrapes, `rateInterval` seconds is what Grafana would use for a short time range.
 */
export function expandGrafanaVariables(expr: string, rateIntervalSeconds = 5): string {
  return expr
    .replaceAll('$__rate_interval', `${rateIntervalSeconds}s`)
    .replaceAll('${__rate_interval}', `${rateIntervalSeconds}s`)
    .replaceAll('$__interval', '1s')
    .replaceAll('$__range', '5m');
}

/** Metric names an expression mentions: identifiers with an underscore that are not functions, keywords or labels. */
export function metricNames(expr: string): string[] {
  const words = new Set(['sum', 'by', 'on', 'rate', 'deriv', 'max', 'min', 'avg', 'clamp_min', 'group_left', 'group_right', 'histogram_quantile', 'and', 'or', 'unless', 'without', 'ignoring', 'le', 'count']);
  const inLabels = expr.replace(/\{[^}]*\}/g, '{}').replace(/\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const names = new Set<string>();
  for (const m of inLabels.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)) {
    const w = m[1]!;
    if (!words.has(w) && /_/.test(w) && !/^\d/.test(w)) names.add(w);
  }
  return [...names];
}
