/** What a phase gets from the run: the plan, the live components, the latest sample, and the run's abort signal. */
import type { Component } from '../backends/backend.ts';
import type { Plan } from '../plan/plan.ts';
import type { SampleResult } from './sampler.ts';
import type { TargetMessaging } from '../targets/target.ts';

export interface PhaseContext {
  plan: Plan;
  server: Component;
  /** Load-generator components in plan order (plan.loadgens[i] is loadgens[i]). */
  loadgens: Component[];
  signal: AbortSignal;
  latest(): SampleResult | undefined;
  /** What the sampler reports as the target (connections asked for so far). */
  setTarget(n: number): void;
  /** How to send and broadcast to a server whose API is not comet-lab's (orchestrator/targets/); absent: comet-lab's. */
  messaging?: TargetMessaging;
}
