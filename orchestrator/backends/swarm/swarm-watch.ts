/**
 * Watches what a run depends on in the swarm, once a second from the manager: the nodes (one that stops answering
 * the managers turns `down`, or is drained) and each component's task (ended, failed, or replaced by a task of the
 * same slot elsewhere: rescheduled). The first thing that goes wrong for a component is its `exited()` reason, with
 * the node's name; the run then stops and its report is incomplete.
 */
import type Dockerode from 'dockerode';
import type { SwarmNode } from '../../plan/swarm-planner.ts';
import { readSwarmNodes } from './swarm-nodes.ts';
import type { Task } from './swarm-tasks.ts';

interface Tracked {
  serviceId: string;
  taskId: string;
  slot?: number;
  nodeId: string;
  reason?: string;
}

export class SwarmWatch {
  readonly docker: Dockerode;
  readonly periodMs: number;
  nodes: SwarmNode[];
  /** What happened, in order: node changes and reschedules, with times (for the report). */
  readonly events: Array<{ atMs: number; what: string }> = [];
  readonly #tracked = new Map<string, Tracked>();
  #timer: NodeJS.Timeout | undefined;
  #busy = false;

  constructor(docker: Dockerode, nodes: SwarmNode[], periodMs = 1000) {
    this.docker = docker;
    this.nodes = nodes;
    this.periodMs = periodMs;
  }

  nodeName(id: string): string {
    return this.nodes.find((n) => n.id === id)?.name ?? id.slice(0, 12);
  }

  track(component: string, task: Task): void {
    this.#tracked.set(component, { serviceId: task.ServiceID, taskId: task.ID, slot: task.Slot, nodeId: task.NodeID ?? '' });
  }

  exited(component: string): string | undefined {
    return this.#tracked.get(component)?.reason;
  }

  start(): void {
    this.#timer = setInterval(() => void this.poll(), this.periodMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** One look at the nodes and the tasks; public so a caller can check at once. */
  async poll(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      const before = new Map(this.nodes.map((n) => [n.id, n.state]));
      this.nodes = await readSwarmNodes(this.docker);
      for (const n of this.nodes) {
        if (before.get(n.id) !== n.state) this.events.push({ atMs: Date.now(), what: `node ${n.name} (${n.addr}) is ${n.state}` });
      }
      const services = [...new Set([...this.#tracked.values()].map((t) => t.serviceId))];
      const tasks = (await this.docker.listTasks({ filters: { service: services } })) as Task[];
      for (const [component, t] of this.#tracked) {
        if (t.reason) continue;
        const node = this.nodes.find((n) => n.id === t.nodeId);
        const task = tasks.find((k) => k.ID === t.taskId);
        const replacement = t.slot === undefined ? undefined : tasks.find((k) => k.Slot === t.slot && k.ServiceID === t.serviceId && k.ID !== t.taskId && k.DesiredState === 'running');
        if (node && node.state !== 'ready') {
          t.reason = `node ${node.name} (${node.addr}) is ${node.state}: the swarm lost the node it ran on`;
        } else if (replacement) {
          t.reason = `its task was rescheduled from node ${this.nodeName(t.nodeId)} to node ${this.nodeName(replacement.NodeID ?? '')} (${task?.Status.State ?? 'gone'}${task?.Status.Err ? `: ${task.Status.Err}` : ''})`;
        } else if (!task) {
          t.reason = `its task on node ${this.nodeName(t.nodeId)} is gone from the swarm`;
        } else if (task.Status.State !== 'running') { // ended, or not running yet again
          const code = task.Status.ContainerStatus?.ExitCode;
          t.reason = `task on node ${this.nodeName(t.nodeId)} ${task.Status.State}${code !== undefined ? ` with code ${code}` : ''}${task.Status.Err ? `: ${task.Status.Err}` : ''}`;
        }
        if (t.reason) this.events.push({ atMs: Date.now(), what: `${component}: ${t.reason}` });
      }
    } catch {
      // the manager did not answer this time; the next poll tries again
    } finally {
      this.#busy = false;
    }
  }
}
