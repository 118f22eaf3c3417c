/**
 * Which workers hold at least one stream of an id, kept from the workers' batched login/logout notices. A send
 * looks up its id here and goes only to those workers: its cost never depends on connections held elsewhere.
 * One worker per id is the common case and is stored as a bare number.
 *
 * A long-poll client is between two polls most of the time: when an id's last stream was a poll that was answered,
 * the id lingers (for `lingerMs`) as one whose client is expected back, so a send to it is kept for its next poll
 * rather than answered 404.
 */
export class Directory {
  private readonly holders = new Map<string, number | number[]>();
  /** Ids whose last stream was an answered poll, with when they stop counting as expected back (epoch ms). */
  private readonly lingering = new Map<string, number>();
  private readonly lingerMs: number;
  private sweptAtMs = 0;
  /** Notices applied so far (activity for idle collection). */
  ops = 0;

  constructor(lingerMs = 0) {
    this.lingerMs = lingerMs;
  }

  /**
   * Applies a worker's notices in order: '+id' (first stream of id there), '-id' (its last one closed), '~id' (its
   * last one, a poll, was answered: the client is expected back).
   */
  apply(worker: number, ops: string[]): void {
    this.ops += ops.length;
    const now = Date.now();
    for (const op of ops) {
      const id = op.slice(1);
      const c = op.charCodeAt(0);
      if (c === 0x2b) {
        this.add(id, worker);
        if (this.lingering.size > 0) this.lingering.delete(id);
      } else {
        this.remove(id, worker);
        if (c === 0x7e && this.lingerMs > 0 && !this.holders.has(id)) this.lingering.set(id, now + this.lingerMs);
      }
    }
    if (this.lingering.size > 0 && now - this.sweptAtMs > this.lingerMs) this.sweep(now);
  }

  /** True when `id` has no stream but its last one was a poll answered less than lingerMs ago. */
  lingers(id: string): boolean {
    const until = this.lingering.get(id);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.lingering.delete(id);
    return false;
  }

  private sweep(now: number): void {
    this.sweptAtMs = now;
    for (const [id, until] of this.lingering) if (until <= now) this.lingering.delete(id);
  }

  /** The workers holding `id` (empty when none). */
  lookup(id: string): readonly number[] {
    const v = this.holders.get(id);
    if (v === undefined) return [];
    return typeof v === 'number' ? [v] : v;
  }

  /** Forgets every id of a worker that died (its streams died with it). */
  dropWorker(worker: number): void {
    for (const [id, v] of this.holders) {
      if (v === worker) this.holders.delete(id);
      else if (typeof v !== 'number' && v.includes(worker)) this.remove(id, worker);
    }
  }

  get ids(): number {
    return this.holders.size;
  }

  private add(id: string, worker: number): void {
    const v = this.holders.get(id);
    if (v === undefined) this.holders.set(id, worker);
    else if (typeof v === 'number') {
      if (v !== worker) this.holders.set(id, [v, worker]);
    } else if (!v.includes(worker)) v.push(worker);
  }

  private remove(id: string, worker: number): void {
    const v = this.holders.get(id);
    if (v === undefined) return;
    if (typeof v === 'number') {
      if (v === worker) this.holders.delete(id);
      return;
    }
    const rest = v.filter((w) => w !== worker);
    if (rest.length === 0) this.holders.delete(id);
    else this.holders.set(id, rest.length === 1 ? rest[0]! : rest);
  }
}
