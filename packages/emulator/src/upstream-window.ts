import type { UpstreamEntry } from './upstream-router.js';

/**
 * The upstream messages written on one connection and not yet ACKed, in write order (a re-send
 * moves an entry to the end, so the oldest write is always first): a `Map` by `message_id`.
 */
export class UpstreamWindow {
  readonly #inflight = new Map<string, UpstreamEntry>();

  /** Messages waiting for their ACK. */
  get size(): number {
    return this.#inflight.size;
  }

  has(id: string): boolean {
    return this.#inflight.has(id);
  }

  /** Records a write of `entry` at `now`. */
  written(entry: UpstreamEntry, now: number): void {
    entry.sentAt = now;
    entry.sends++;
    this.#inflight.delete(entry.id);
    this.#inflight.set(entry.id, entry);
  }

  /** Removes and returns the entry an ACK names, or undefined. */
  take(id: string): UpstreamEntry | undefined {
    const entry = this.#inflight.get(id);
    if (entry !== undefined) this.#inflight.delete(id);
    return entry;
  }

  /** Entries written at least `resendMs` ago, oldest first (each is re-sent and so moves to the end). */
  due(now: number, resendMs: number): UpstreamEntry[] {
    const out: UpstreamEntry[] = [];
    for (const entry of this.#inflight.values()) {
      if (now - entry.sentAt < resendMs) break;
      out.push(entry);
    }
    return out;
  }

  /** Restarts every entry's resend interval (what waited for a client that was not reading). */
  touchAll(now: number): void {
    for (const entry of this.#inflight.values()) entry.sentAt = now;
  }

  /** Empties the window and returns its entries, oldest first. */
  takeAll(): UpstreamEntry[] {
    const all = [...this.#inflight.values()];
    this.#inflight.clear();
    return all;
  }
}
