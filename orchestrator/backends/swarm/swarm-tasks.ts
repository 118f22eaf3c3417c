/**
 * Swarm calls the lab makes more than once: a service's tasks (with the node each sits on), waiting until they reach
 * a state, its logs, and configs named by their content (a config cannot change, so new content is a new name).
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type Dockerode from 'dockerode';

export interface Task {
  ID: string;
  ServiceID: string;
  NodeID?: string;
  Slot?: number;
  DesiredState: string;
  Status: { State: string; Message?: string; Err?: string; Timestamp?: string; ContainerStatus?: { ContainerID?: string; ExitCode?: number } };
  NetworksAttachments?: Array<{ Network: { ID: string }; Addresses?: string[] }>;
  CreatedAt?: string;
}

/** States a task never leaves. */
export const ENDED = new Set(['complete', 'failed', 'rejected', 'shutdown', 'orphaned', 'remove']);

export async function serviceTasks(docker: Dockerode, serviceId: string): Promise<Task[]> {
  return (await docker.listTasks({ filters: { service: [serviceId] } })) as Task[];
}

/** The tasks the service wants now (not the ended history), by slot for a replicated service. */
export function currentTasks(tasks: Task[]): Task[] {
  return tasks.filter((t) => t.DesiredState === 'running' || t.DesiredState === 'complete' || t.DesiredState === 'ready' || t.DesiredState === 'accepted');
}

/** The task's address on a network, without the prefix length. */
export function taskAddress(t: Task, networkId: string): string | undefined {
  return t.NetworksAttachments?.find((a) => a.Network.ID === networkId)?.Addresses?.[0]?.split('/')[0];
}

/**
 * Polls the service's tasks until `done(tasks)` says so (returns them) or `failed(tasks)` names a reason (throws it),
 * or the time runs out (throws what the tasks say), or `signal` aborts (throws its reason).
 */
export async function waitTasks(
  docker: Dockerode,
  serviceId: string,
  o: { timeoutMs: number; what: string; done: (t: Task[]) => boolean; failed?: (t: Task[]) => string | undefined; signal?: AbortSignal },
): Promise<Task[]> {
  const deadline = Date.now() + o.timeoutMs;
  for (;;) {
    o.signal?.throwIfAborted();
    const tasks = await serviceTasks(docker, serviceId);
    const why = o.failed?.(tasks);
    if (why) throw new Error(why);
    if (o.done(tasks)) return tasks;
    if (Date.now() > deadline) {
      const states = tasks.map((t) => `slot ${t.Slot ?? '-'} ${t.Status.State}${t.Status.Err ? ` (${t.Status.Err})` : ''}`).join(', ');
      throw new Error(`${o.what}: not done within ${o.timeoutMs / 1000}s (${states || 'no tasks'})`);
    }
    await sleep(300, undefined, o.signal ? { signal: o.signal } : {});
  }
}

/** Splits a non-TTY log answer (8-byte frame headers: stream, 0, 0, 0, length) into lines. */
export function demuxLogs(buf: Buffer): string[] {
  const out: string[] = [];
  let i = 0;
  while (i + 8 <= buf.length && buf[1] === 0 && buf[i + 1] === 0) {
    const size = buf.readUInt32BE(i + 4);
    out.push(buf.subarray(i + 8, i + 8 + size).toString('utf8'));
    i += 8 + size;
  }
  const text = i === 0 ? buf.toString('utf8') : out.join('');
  return text.split('\n').filter(Boolean);
}

/** A service's log lines so far, each with the node id it came from (the `details` of `docker service logs`). */
export async function serviceLogs(docker: Dockerode, serviceId: string): Promise<Array<{ nodeId: string; line: string }>> {
  const raw = (await docker.getService(serviceId).logs({ stdout: true, stderr: true, details: true, follow: false } as never)) as unknown as Buffer;
  return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw))).map((l) => {
    // details come first: com.docker.swarm.node.id=...,com.docker.swarm.service.id=...,... then a space, then the line
    const sp = l.indexOf(' ');
    const details = sp > 0 ? l.slice(0, sp) : '';
    const nodeId = /com\.docker\.swarm\.node\.id=([^,\s]+)/.exec(details)?.[1] ?? '';
    return { nodeId, line: nodeId ? l.slice(sp + 1) : l };
  });
}

/** A config holding `data`, named `<prefix>_<hash>`: made once, found by name after that. */
export async function ensureConfig(docker: Dockerode, prefix: string, data: string, labels: Record<string, string>): Promise<{ id: string; name: string }> {
  const name = `${prefix}_${createHash('sha256').update(data).digest('hex').slice(0, 12)}`;
  const found = (await docker.listConfigs({ filters: { name: [name] } })).find((c) => c.Spec?.Name === name);
  if (found) return { id: found.ID, name };
  const made = (await docker.createConfig({ Name: name, Labels: labels, Data: Buffer.from(data).toString('base64') })) as { id?: string; ID?: string };
  return { id: made.id ?? made.ID ?? '', name };
}
