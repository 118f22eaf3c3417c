/**
 * Watches the engine's event stream for the containers of a run (and the lab's server) and remembers why each one
 * stopped: exit code, or OOM kill (the `oom` event, or State.OOMKilled on inspection). Component.exited() answers from
 * it, so the run can stop and mark its report incomplete as soon as a container dies.
 *
 * The stream goes through its own client without an idle timeout: docker-modem destroys a request that has been
 * silent for the client's `timeout` (30 s in connectDocker), and an event stream is silent for as long as nothing
 * dies, so a hold longer than 30 s used to stop seeing deaths at all (found when a test's hold grew past 30 s).
 * Should the stream end anyway (engine restart), it is opened again and every watched container is inspected once,
 * so a death in the gap is not missed.
 */
import Dockerode from 'dockerode';

interface DockerEvent {
  Type?: string;
  Action?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  id?: string;
}

export class DockerExitWatch {
  readonly docker: Dockerode;
  readonly reasons = new Map<string, string>();
  readonly oom = new Set<string>();
  #stream: (NodeJS.ReadableStream & { destroy?: () => void }) | undefined;
  #watched = new Set<string>();

  constructor(docker: Dockerode) {
    this.docker = docker;
  }

  #stopped = false;

  /** Starts listening; containers are added with watch(). */
  async start(): Promise<void> {
    const modem = this.docker.modem as unknown as { socketPath?: string; host?: string; port?: number; protocol?: string };
    const events = modem.socketPath ? new Dockerode({ socketPath: modem.socketPath }) : new Dockerode({ host: modem.host, port: modem.port, protocol: modem.protocol as 'http' });
    const stream = (await events.getEvents({ filters: { type: ['container'], event: ['die', 'oom'] } })) as NodeJS.ReadableStream & {
      destroy?: () => void;
    };
    this.#stream = stream;
    const reopen = () => {
      if (this.#stopped || this.#stream !== stream) return;
      this.#stream = undefined;
      setTimeout(() => {
        if (this.#stopped) return;
        void this.start().then(() => Promise.all([...this.#watched].map((id) => this.refresh(id)))).catch(() => reopen());
      }, 500).unref();
    };
    stream.on('end', reopen);
    stream.on('close', reopen);
    let buf = '';
    stream.on('data', (chunk: Buffer) => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) this.#onEvent(JSON.parse(line) as DockerEvent);
      }
    });
    stream.on('error', reopen); // the engine going away also shows up as failed probes and calls
  }

  watch(id: string): void {
    this.#watched.add(id);
  }

  /** Why the container stopped, or undefined while it runs. */
  exited(id: string): string | undefined {
    return this.reasons.get(id);
  }

  /** Asks the engine directly (events can lag): records a reason when the container is no longer running. */
  async refresh(id: string): Promise<string | undefined> {
    try {
      const s = (await this.docker.getContainer(id).inspect()).State;
      if (!s.Running && !this.reasons.has(id)) {
        this.reasons.set(id, s.OOMKilled ? `OOM-killed (exit code ${s.ExitCode})` : `exited with code ${s.ExitCode}${s.Error ? `: ${s.Error}` : ''}`);
      }
    } catch {
      if (!this.reasons.has(id)) this.reasons.set(id, 'container removed');
    }
    return this.reasons.get(id);
  }

  stop(): void {
    this.#stopped = true;
    this.#stream?.destroy?.();
    this.#stream = undefined;
  }

  #onEvent(e: DockerEvent): void {
    const id = e.Actor?.ID ?? e.id;
    if (!id || !this.#watched.has(id)) return;
    if (e.Action === 'oom') {
      this.oom.add(id);
      return;
    }
    if (e.Action === 'die') {
      const code = e.Actor?.Attributes?.exitCode ?? '?';
      this.reasons.set(id, this.oom.has(id) ? `OOM-killed (exit code ${code})` : `exited with code ${code}`);
      // An OOM kill may be reported only in the container's state: confirm.
      if (!this.oom.has(id)) void this.#confirmOom(id);
    }
  }

  async #confirmOom(id: string): Promise<void> {
    try {
      const s = (await this.docker.getContainer(id).inspect()).State;
      if (s.OOMKilled) this.reasons.set(id, `OOM-killed (exit code ${s.ExitCode})`);
    } catch {
      // removed meanwhile: keep the exit code
    }
  }
}
