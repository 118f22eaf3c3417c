/**
 * Renders a DoctorReport as a terminal table: one line per setting (status, setting, current, profile value) and its
 * meaning indented underneath, so it reads at any width. Coloured when `color` is true (a TTY), plain otherwise.
 */
import { Chalk, type ChalkInstance } from 'chalk';
import type { DoctorReport, DoctorRow } from './doctor.ts';
import type { SettingResult } from './tune.ts';

function paint(c: ChalkInstance, severity: DoctorRow['severity']): (s: string) => string {
  return { ok: c.green, info: c.cyan, warn: c.yellow, fail: c.red.bold }[severity];
}

const pad = (s: string, w: number): string => (s.length >= w ? s : s + ' '.repeat(w - s.length));

/** The doctor's table and verdict as text. */
export function renderDoctor(report: DoctorReport, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const widest = (f: (r: DoctorRow) => string) => Math.max(...report.rows.map((r) => f(r).length), 7) + 2;
  const widths = { status: 7, title: widest((r) => r.title), current: widest((r) => r.current) };
  const head = `${pad('STATUS', widths.status)}${pad('SETTING', widths.title)}${pad('CURRENT', widths.current)}PROFILE ${report.profile}`;
  const lines = [c.bold(head)];
  for (const r of report.rows) {
    const profile = r.profileValue === undefined ? '-' : r.matchesProfile ? `${r.profileValue} (=)` : r.profileValue;
    lines.push(
      paint(c, r.severity)(pad(r.severity.toUpperCase(), widths.status)) +
        pad(r.title, widths.title) +
        pad(r.current, widths.current) +
        (r.matchesProfile === false ? c.magenta(profile) : profile),
    );
    lines.push(c.dim(`${' '.repeat(widths.status)}${r.meaning}`));
  }
  const counts = ['fail', 'warn'].map((s) => `${report.rows.filter((r) => r.severity === s).length} ${s}`).join(', ');
  lines.push('', (report.fits ? c.green : c.red.bold)(`${report.verdict}`), c.dim(`${counts}; "(=)": already at the profile's value`));
  return `${lines.join('\n')}\n`;
}

/** One line per tune/untune result. */
export function renderResult(r: SettingResult, color: boolean): string {
  const c = new Chalk({ level: color ? 1 : 0 });
  const arrow = `${r.from ?? 'absent'} -> ${r.to}`;
  if (r.status === 'failed') return `${c.red(pad('FAILED', 9))} ${r.key}: ${r.reason}: ${r.detail ?? ''} (wanted ${arrow})`;
  return `${c.green(pad(r.status, 9))} ${r.key}: ${r.status === 'unchanged' ? r.to : arrow}`;
}
