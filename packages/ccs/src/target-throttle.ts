import type { OutboxRecord } from './store.js';

/** A rate-limited device or topic. */
interface Throttle {
  /** Earliest time the next probe may go. */
  until: number;
  /** Backoff level: grows with each NACKed probe, eases with each ACKed one. */
  level: number;
  /** The one message of this target released (queued, parked, or in flight). */
  active: OutboxRecord | undefined;
  /** The rest, ascending by `seq`. */
  held: OutboxRecord[];
}

/** What dispatch may do with a record whose target is throttled (see {@link TargetThrottle.gate}). */
export const enum Gate {
  /** Not throttled, or it is the target's probe: write it. */
  Go,
  /** Another message of the target is on its way: hold this one. */
  Hold,
  /** It is the probe, but an older message of the target came back (a lost connection): that one goes first. */
  Older,
}

/**
 * The per-target slow-down after `DEVICE_MESSAGE_RATE_EXCEEDED` / `TOPICS_MESSAGE_RATE_EXCEEDED`.
 * Only the limited device or topic slows down: its messages are held in the order they were sent
 * and released one at a time — a probe — after an exponential pause; each ACK of a probe lets the
 * next one go at once and eases the pace, each NACK of one lengthens the pause. Nothing overtakes,
 * and a limited target never has more than one message on its way. A target is forgotten as soon
 * as nothing of it waits, so the map stays as small as the set of limited targets.
 *
 * This class keeps the bookkeeping only; the outbox changes the messages' states.
 */
export class TargetThrottle {
  readonly #targets = new Map<string, Throttle>();

  /** Targets currently limited (the `throttledTargets` gauge). */
  get size(): number {
    return this.#targets.size;
  }

  /**
   * `record` was NACKed for its target's rate: remember it as held and set when the next probe
   * may go (`delay(level)` ms from `now`). The caller parks it, then calls {@link release}.
   */
  slowDown(record: OutboxRecord, now: number, delay: (level: number) => number): void {
    let t = this.#targets.get(record.target);
    if (t === undefined) {
      t = { until: 0, level: 0, active: undefined, held: [] };
      this.#targets.set(record.target, t);
    } else if (t.active === record) {
      t.level++;
    }
    // A NACKed probe lengthens the pause; a message NACKed while a pause runs leaves it as it is.
    if (t.active === record || t.until <= now) t.until = now + delay(t.level);
    if (t.active === record) t.active = undefined;
    insert(t.held, record);
  }

  /** What dispatch does with `record` (see {@link Gate}). */
  gate(record: OutboxRecord): Gate {
    const t = this.#targets.get(record.target);
    if (t === undefined) return Gate.Go;
    if (t.active !== record) return Gate.Hold;
    const older = t.held[0];
    return older !== undefined && older.seq < record.seq ? Gate.Older : Gate.Go;
  }

  /** Holds `record` (after `gate` said `Hold`); the caller parks it and calls {@link release}. */
  hold(record: OutboxRecord): void {
    const t = this.#targets.get(record.target);
    if (t !== undefined) insert(t.held, record);
  }

  /** After `gate` said `Older`: holds `record` and makes the oldest held one the probe; returns it (the caller queues it). */
  swapOlder(record: OutboxRecord): OutboxRecord {
    const t = this.#targets.get(record.target) as Throttle;
    insert(t.held, record);
    const older = t.held.shift() as OutboxRecord;
    t.active = older;
    return older;
  }

  /**
   * Releases the next held message of `target` when none is on its way and returns it (the
   * caller queues it, or parks it until {@link readyAt}); forgets the target when nothing of it waits.
   */
  release(target: string): OutboxRecord | undefined {
    const t = this.#targets.get(target);
    if (t === undefined || t.active !== undefined) return undefined;
    const next = t.held.shift();
    if (next === undefined) {
      this.#targets.delete(target);
      return undefined;
    }
    t.active = next;
    return next;
  }

  /** When the target's next probe may go (0 when not limited). */
  readyAt(target: string): number {
    return this.#targets.get(target)?.until ?? 0;
  }

  /** `record` was ACKed. True when it was its target's probe and others wait (the caller then calls {@link release}). */
  acked(record: OutboxRecord): boolean {
    const t = this.#targets.get(record.target);
    if (t === undefined || t.active !== record) return false;
    t.active = undefined;
    t.until = 0;
    t.level = Math.max(0, t.level - 1);
    if (t.held.length > 0) return true;
    this.#targets.delete(record.target);
    return false;
  }

  /**
   * `record` settled without an ACK (final NACK, timeout, abort): it leaves the held list at once.
   * True when it was its target's probe (the caller then calls {@link release} for the next).
   */
  forget(record: OutboxRecord): boolean {
    const t = this.#targets.get(record.target);
    if (t === undefined) return false;
    if (t.active === record) {
      t.active = undefined;
      return true;
    }
    const i = t.held.indexOf(record);
    if (i !== -1) t.held.splice(i, 1);
    return false;
  }

  /** Whether `record` is held (not the probe). */
  isHeld(record: OutboxRecord): boolean {
    return this.#targets.get(record.target)?.held.includes(record) ?? false;
  }

  /** Every held record, in no particular order. */
  *heldRecords(): IterableIterator<OutboxRecord> {
    for (const t of this.#targets.values()) yield* t.held;
  }

  /** Forgets every target; returns what was held. */
  clear(): OutboxRecord[] {
    const held = [...this.heldRecords()];
    this.#targets.clear();
    return held;
  }
}

/** Inserts keeping `seq` order (records come back mostly at the end: search from there). */
function insert(list: OutboxRecord[], record: OutboxRecord): void {
  let i = list.length;
  while (i > 0 && (list[i - 1] as OutboxRecord).seq > record.seq) i--;
  list.splice(i, 0, record);
}
