/**
 * Starts one component process (watched-child.ts: its own process group, exit reason, stderr tail, log file) and
 * waits for its ready line (`comet-lab <kind> ready {json}`) on stdout, with a timeout, never a fixed sleep.
 */
import { LabError } from '../../../shared/errors.ts';
import { parseReadyLine, readyPrefix } from '../../../shared/ready-line.ts';
import { signalGroup, spawnWatched, type WatchedChild } from './watched-child.ts';

export interface SpawnedComponent extends WatchedChild {
  ready: Record<string, unknown>;
}

const TAIL_LINES = 12;

export async function spawnComponent(
  command: string[],
  kind: 'server' | 'loadgen',
  options: {
    timeoutMs: number; env?: NodeJS.ProcessEnv; logFile?: string; cwd?: string; lifeline?: boolean;
    /** Called with the child as soon as it is spawned, before its ready line: whoever stops it must know it already. */
    onSpawn?: (child: WatchedChild) => void;
    /** Aborted (Ctrl-C): stop waiting, kill the child's group and reject with the signal's reason. */
    signal?: AbortSignal;
  },
): Promise<SpawnedComponent> {
  const prefix = readyPrefix(kind);
  let onLine: (line: string) => void = () => undefined;
  // `lifeline`: the child's stdin is a pipe this process holds open and never writes; when this process dies, even by
  // SIGKILL, the kernel closes it and the child reads EOF (the server's --exit-with-parent ends on that).
  const watched = spawnWatched(command, {
    stdin: options.lifeline ? 'pipe' : 'ignore',
    tailLines: TAIL_LINES,
    logFile: options.logFile,
    cwd: options.cwd,
    env: options.env,
    onStdoutLine: (line) => onLine(line),
  });
  options.onSpawn?.(watched);
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => fail(`no ready line within ${options.timeoutMs / 1000}s`), options.timeoutMs);
    const kill = () => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      // The whole group: a child that started children of its own (workers, a cgroup wrapper's exec) leaves none.
      if (watched.exitReason() === undefined && watched.child.pid !== undefined) signalGroup(watched.child.pid, 'SIGKILL');
    };
    const fail = (why: string) => {
      kill();
      const tail = watched.stderrTail.length ? `\n${watched.stderrTail.join('\n')}` : '';
      reject(new LabError('LAB_ERR_COMPONENT_START', `${kind} did not start: ${why}${tail}`, { hint: `command: ${command.join(' ')}` }));
    };
    const onAbort = () => {
      kill();
      reject(options.signal!.reason);
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    onLine = (line) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = parseReadyLine(line, prefix);
      } catch {
        return fail(`unreadable ready line: ${line}`);
      }
      if (json === undefined) return;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      resolve(json);
    };
    void watched.exited.then(() => fail(watched.exitReason() ?? 'exited'));
  });
  onLine = () => undefined;
  return { ...watched, ready };
}
