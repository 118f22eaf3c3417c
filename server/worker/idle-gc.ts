/**
 * One full garbage collection when a burst of activity has ended: after a ramp of thousands of new streams, the
 * garbage it left (request heads, promoted temporaries) would otherwise stay resident until V8 happens to run a
 * full collection, which an idle comet process may not do for a long time. Measured at 15,000 idle streams,
 * collecting brings the server's memory from about 5.5 to 5.0 KB per stream. The pause is short (a few ms per 10 MB
 * of heap) and only happens when the process has just gone idle.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let collect: (() => void) | undefined;

/** V8's gc(), made available at run time (the same function --expose-gc gives). */
function gcFunction(): () => void {
  if (collect) return collect;
  const exposed = (globalThis as { gc?: () => void }).gc;
  if (exposed) return (collect = exposed);
  setFlagsFromString('--expose-gc');
  collect = runInNewContext('gc') as () => void;
  setFlagsFromString('--no-expose-gc');
  return collect;
}

/**
 * Calls gc() once `activity()` has grown by at least `burst` since the last collection and then stood still for a
 * whole `quietMs`. Returns a stop function.
 */
export function collectWhenIdle(activity: () => number, burst = 1000, quietMs = 2000): () => void {
  let atLastGc = activity();
  let atLastCheck = atLastGc;
  const timer = setInterval(() => {
    const now = activity();
    if (now === atLastCheck && now - atLastGc >= burst) {
      gcFunction()();
      atLastGc = now;
    }
    atLastCheck = now;
  }, quietMs);
  timer.unref();
  return () => clearInterval(timer);
}
