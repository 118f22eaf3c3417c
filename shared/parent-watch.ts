/**
 * `--exit-with-parent` (server and load generator): notices that the process which started this one is gone,
 * whichever way it went. A parent that is SIGKILLed runs no cleanup, so the signs are the kernel's: the parent's end
 * of our stdin pipe closes (EOF), an IPC channel to it disconnects, and this process is re-parented (getppid
 * changes). The first two are immediate but need the parent to have given us a pipe or a channel; the third works
 * whatever our stdio is, checked every PPID_CHECK_MS. Any one of them ends the process.
 */
import { fstatSync } from 'node:fs';

const PPID_CHECK_MS = 500;

/** Calls `onGone(why)` once when the parent is gone; returns a function that stops watching. */
export function watchParent(onGone: (why: string) => void): () => void {
  let done = false;
  const gone = (why: string) => {
    if (done) return;
    done = true;
    stop();
    onGone(why);
  };
  const onDisconnect = () => gone('its IPC channel closed');
  if (process.channel !== undefined) process.once('disconnect', onDisconnect);
  let stdinWatched = false;
  try {
    const st = fstatSync(0);
    // /dev/null or a terminal would read EOF (or never): only a pipe or socket says something about the parent
    stdinWatched = st.isFIFO() || st.isSocket();
  } catch {
    // no stdin at all
  }
  const onEnd = () => gone('its stdin reached EOF');
  if (stdinWatched) {
    process.stdin.on('data', () => {}); // whatever the parent writes is ignored; reading is how EOF is seen
    process.stdin.once('end', onEnd);
    process.stdin.once('error', onEnd);
  }
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) gone(`its parent (pid ${parent}) exited`);
  }, PPID_CHECK_MS);
  timer.unref();
  function stop(): void {
    clearInterval(timer);
    process.off('disconnect', onDisconnect);
    if (stdinWatched) {
      process.stdin.off('end', onEnd);
      process.stdin.off('error', onEnd);
      process.stdin.pause();
    }
  }
  return stop;
}
