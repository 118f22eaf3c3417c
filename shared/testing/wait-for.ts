/**
 * The one "poll until true" of the tests and benches: ask `check` every `everyMs` until it answers, never a fixed
 * sleep, and fail with what was awaited (and what was last seen) when the time runs out.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** How often `check` is asked; default 200 ms. */
  everyMs?: number;
  /** true: an error thrown by `check` means "not yet" (the last one is named on time-out); default: it fails at once. */
  retryErrors?: boolean;
  /** What was last seen, added to the time-out message (a string as it is, anything else as JSON). */
  describe?: () => unknown;
}

/** `check`'s answer: a value when done; undefined, null or false while not yet. */
export type Checked<T> = T | undefined | null | false;

/** Resolves with `check`'s first answer that is done; throws after `timeoutMs` naming `what`. */
export async function waitFor<T>(what: string, check: () => Checked<T> | Promise<Checked<T>>, timeoutMs: number, options: WaitOptions = {}): Promise<T> {
  const { everyMs = 200, retryErrors = false, describe } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const answer = await check();
      if (answer !== undefined && answer !== null && answer !== false) return answer;
    } catch (err) {
      if (!retryErrors) throw err;
      lastError = err;
    }
    if (Date.now() >= deadline) break;
    await sleep(everyMs);
  }
  const seen = describe?.();
  const error = lastError === undefined ? '' : ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)})`;
  const described = describe === undefined ? '' : `: ${typeof seen === 'string' ? seen : JSON.stringify(seen)}`;
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${error}${described}`);
}
