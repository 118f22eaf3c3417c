/**
 * One timer for many streams: a ring of slots turned every period/slots ms. A stream added now lands in the slot
 * just visited, so it comes due one full period later (give or take one slot). Periodic wheels (heartbeats) keep
 * their streams; one-shot wheels (long-poll waits) drop each stream as it comes due. A per-stream setInterval would
 * cost a Timeout object and a timer-list entry per connection.
 */

export interface WheelItem {
  sl: number; // slot index, -1 when in no wheel
}

export class TimerWheel<S extends WheelItem> {
  private readonly slots: Set<S>[];
  private cursor = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly onDue: (s: S) => void;
  private readonly oneShot: boolean;

  constructor(periodMs: number, onDue: (s: S) => void, options: { oneShot?: boolean; slots?: number } = {}) {
    const count = Math.max(1, Math.min(options.slots ?? 50, Math.floor(periodMs)));
    this.slots = Array.from({ length: count }, () => new Set<S>());
    this.onDue = onDue;
    this.oneShot = options.oneShot ?? false;
    this.timer = setInterval(() => this.tick(), periodMs / count);
    this.timer.unref();
  }

  add(s: S): void {
    s.sl = this.cursor;
    this.slots[this.cursor]!.add(s);
  }

  remove(s: S): void {
    if (s.sl < 0) return;
    this.slots[s.sl]?.delete(s);
    s.sl = -1;
  }

  get size(): number {
    let n = 0;
    for (const slot of this.slots) n += slot.size;
    return n;
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private tick(): void {
    this.cursor = (this.cursor + 1) % this.slots.length;
    const slot = this.slots[this.cursor]!;
    if (slot.size === 0) return;
    if (this.oneShot) {
      const due = [...slot];
      slot.clear();
      for (const s of due) {
        s.sl = -1;
        this.onDue(s);
      }
    } else {
      for (const s of slot) this.onDue(s);
    }
  }
}
