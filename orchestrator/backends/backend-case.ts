/**
 * What a backend brings to the shared suite (backend.case.test.ts): how to make it, a small plan for it, how to kill
 * one of its components from outside (as a crash or a lost node would), and how to list what it left behind. Each
 * backend's harness lives in its own folder and names every test it skips, with the reason.
 */
import { execFileSync } from 'node:child_process';
import type { Backend } from './backend.ts';
import type { Plan } from '../plan/plan.ts';

/** The suite's tests, by name, so a harness can skip one and say why. */
export type BackendCaseTest = 'adopts' | 'answers' | 'ramps' | 'probes' | 'death' | 'stop' | 'abort';

export interface BackendCase {
  name: string;
  /** Why this backend cannot run here at all (no engine, no swarm...), or false. */
  skip: string | false;
  /** Tests this backend skips, each with the reason. */
  skips?: Partial<Record<BackendCaseTest, string>>;
  /** Connections the suite ramps to (small: the suite checks the contract, benches measure scale). */
  n: number;
  /** Before the backend is made: what it needs around it (an engine, a lab, a swarm). */
  setup?(): Promise<void>;
  /** After stop(): removes what setup made, whatever happened. */
  teardown?(): Promise<void>;
  make(): Backend;
  /** When the 'abort' test aborts a second backend's up(): while it is still starting something (default 500 ms). */
  abortAfterMs?: number;
  /** A plan for N as this backend's planner makes it (swarm: from the engine's node list, hence a promise). */
  plan(n: number): Plan | Promise<Plan>;
  /** Kills the named component from outside, as a crash would (SIGKILL, docker kill). */
  kill(backend: Backend, name: string): Promise<void>;
  /** Whatever the backend made that is still there (processes, cgroups, containers): empty after stop(). */
  leftovers(backend: Backend): Promise<string[]>;
}

/** Why a Docker-based backend cannot run its case here (no docker CLI), or false. */
export function noDockerCli(): string | false {
  try {
    execFileSync('docker', ['--version'], { stdio: 'ignore' });
    return false;
  } catch {
    return 'no docker CLI on this host (bash scripts/install-system-deps.sh installs docker.io)';
  }
}
