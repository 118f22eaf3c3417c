/** Reads every load generator's delivery-latency histogram summary, by load-generator name. */
import type { LatencySummary } from '../../shared/contracts.ts';
import type { Component } from '../backends/backend.ts';
import { loadgenStatus, resetLatency } from './control.ts';

export async function latencyByLoadgen(loadgens: Component[]): Promise<Record<string, LatencySummary>> {
  const out: Record<string, LatencySummary> = {};
  await Promise.all(loadgens.map(async (l) => {
    const s = await loadgenStatus(l.url).catch(() => undefined);
    if (s) out[l.name] = s.latencyMs;
  }));
  return out;
}

export async function resetAllLatency(loadgens: Component[]): Promise<void> {
  await Promise.all(loadgens.map((l) => resetLatency(l.url, l.token)));
}

/** Sum of a status field over the load generators that answer. */
export async function sumStatus(loadgens: Component[], field: 'messages' | 'active' | 'chunks'): Promise<{ total: number; each: number[]; lastMessageAtMs: number[] }> {
  const statuses = await Promise.all(loadgens.map((l) => loadgenStatus(l.url).catch(() => undefined)));
  const each = statuses.map((s) => s?.[field] ?? 0);
  return { total: each.reduce((a, b) => a + b, 0), each, lastMessageAtMs: statuses.map((s) => s?.lastMessageAtMs ?? 0) };
}
