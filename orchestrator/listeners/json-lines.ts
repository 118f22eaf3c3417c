/**
 * `--json`: one JSON object per line on stdout for every event (`{"event":"sample",...}`), for scripts and CI.
 * The report's location and summary follow as a last `{"event":"report",...}` line from the flood command.
 */
import type { RunListenerFactory } from './listener.ts';

export const EVENTS = ['phase', 'up', 'sample', 'error', 'done'] as const;

export const jsonLines: RunListenerFactory = (run, ctx) => {
  const handlers = EVENTS.map((event) => {
    const h = (payload: unknown) => ctx.stdout.write(`${JSON.stringify({ event, ...(payload as object) })}\n`);
    run.on(event, h);
    return [event, h] as const;
  });
  ctx.stdout.write(`${JSON.stringify({ event: 'plan', plan: ctx.plan })}\n`);
  return {
    close() {
      for (const [event, h] of handlers) run.off(event, h);
    },
  };
};
