/**
 * Stable error codes and the one exit-code table every comet-lab CLI uses.
 * A CLI catches LabError, prints `message` and `hint` (never a stack) and exits with `exitCode`.
 */

export const EXIT = {
  ok: 0,
  failure: 1, // the run started and failed (a component died, a target was missed with --strict, ...)
  usage: 2, // bad flags or input: nothing was started
  preflight: 3, // the host cannot do what was asked (limits, missing engine); nothing was started
  targetMissed: 4, // the run ended cleanly but did not hold the N it was asked for (report says TARGET MISSED)
  thresholdFailed: 5, // the run ended cleanly but a --threshold failed (report and summary.json list which)
  degraded: 6, // the run reached its end, but something the user must know went wrong on the way (a server worker died and was replaced, the run stalled)
  interrupted: 130, // SIGINT/SIGTERM: stopped and cleaned up
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class LabError extends Error {
  readonly code: string;
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  constructor(code: string, message: string, options: { exitCode?: ExitCode; hint?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'LabError';
    this.code = code;
    this.exitCode = options.exitCode ?? EXIT.failure;
    this.hint = options.hint;
  }
}

/** Bad user input: the message lists every problem at once, one per line. */
export function usageError(problems: string[], hint?: string): LabError {
  return new LabError('LAB_ERR_USAGE', problems.join('\n'), { exitCode: EXIT.usage, hint });
}
