/**
 * Adding up load generators' paces (shared/contracts.ts PaceStatus): a parent over its child processes, the
 * orchestrator over its load generators. Rates and cuts add; the reason is the one most processes give (ties go to
 * the more pressing: a cut outranks growth); the connect p90 is the worst one.
 */
import { PACE_REASONS, type PaceReason, type PaceStatus } from './contracts.ts';

// Reasons in the order a tie is broken: what limits the ramp first.
const URGENCY: readonly PaceReason[] = ['connect-timeouts', 'slow-connects', 'connecting-cap', 'slow-start', 'increasing', 'asked-rate', 'fixed', 'unpaced', 'done', 'waiting'];

export function mergePaces(parts: Array<PaceStatus | undefined>): PaceStatus | undefined {
  const paces = parts.filter((p): p is PaceStatus => p !== undefined);
  if (paces.length === 0) return undefined;
  const reasons: Partial<Record<PaceReason, number>> = {};
  const out: PaceStatus = { askedPerSecond: 0, currentPerSecond: 0, reason: 'waiting', decreases: 0, reasons };
  for (const p of paces) {
    out.askedPerSecond += p.askedPerSecond;
    out.currentPerSecond += p.currentPerSecond;
    out.decreases += p.decreases;
    if (p.connectP90Ms !== undefined) out.connectP90Ms = Math.max(out.connectP90Ms ?? 0, p.connectP90Ms);
    if (p.reasons) for (const [r, n] of Object.entries(p.reasons) as Array<[PaceReason, number]>) reasons[r] = (reasons[r] ?? 0) + n;
    else reasons[p.reason] = (reasons[p.reason] ?? 0) + 1;
  }
  out.askedPerSecond = Math.round(out.askedPerSecond * 10) / 10;
  out.currentPerSecond = Math.round(out.currentPerSecond * 10) / 10;
  let best = -1;
  for (const r of URGENCY) {
    const n = reasons[r] ?? 0;
    if (n > best) {
      best = n;
      out.reason = r;
    }
  }
  return out;
}

/** True when `reason` is a known pace reason (for readers of JSON that may come from another version). */
export function isPaceReason(reason: unknown): reason is PaceReason {
  return (PACE_REASONS as readonly unknown[]).includes(reason);
}
