/**
 * Which workers hold at least one stream of an id, kept from the workers' batched login/logout notices. A send
 * looks up its id here and goes only to those workers: its cost never depends on connections held elsewhere.
 * One worker per id is the common case and is stored as a bare number.
 */
export class Directory {
  private readonly holders = new Map<string, number | number[]>();
  /** Notices applied so far (activity for idle collection). */
  ops = 0;

  /** Applies a worker's notices in order: '+id' (first stream of id there), '-id' (its last one closed). */
  apply(worker: number, ops: string[]): void {
    this.ops += ops.length;
    for (const op of ops) {
      const id = op.slice(1);
      if (op.charCodeAt(0) === 0x2b) this.add(id, worker);
      else this.remove(id, worker);
    }
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
