/**
 * Upstream routing (PROTOCOL.md "Upstream"): per sender, the messages waiting for a connection,
 * the bound connections that can take them (round robin), and the ids the app server ACKed.
 * It sees connections only through {@link UpstreamOutlet}, which a session implements, so this
 * file imports nothing of the session (no cycle) and can be driven by any outlet in a test.
 */
import { Fifo } from './fifo.js';
import { IdSet } from './id-set.js';

/** One upstream message (or delivery receipt) owed to a sender until the app server ACKs it. */
export interface UpstreamEntry {
  /** Its `message_id` (`dr2:…` for a receipt). */
  readonly id: string;
  readonly senderId: string;
  /** The whole stanza, encoded once and re-sent as is. */
  readonly stanza: string;
  readonly receipt: boolean;
  /** When it was last written (ms), for same-connection re-sends. */
  sentAt: number;
  /** How many times it was written. */
  sends: number;
  /** The ledger generation it was created in: an ACK after a `reset()` does not count in the new ledger. */
  readonly epoch: number;
}

/** What the router needs of a connection: whether it has room, and a way to write to it. */
export interface UpstreamOutlet {
  readonly senderId: string | undefined;
  /** True when one more upstream message may be written now. */
  readonly canTakeUpstream: boolean;
  /** True when a message with this id already waits for its ACK here (a second copy must wait: the ACK names only the id). */
  hasUpstream(id: string): boolean;
  /** Writes the message and tracks it until ACKed. */
  sendUpstream(entry: UpstreamEntry, now: number): void;
}

/** Per-sender queues, online outlets and ACKed ids. */
export class UpstreamRouter {
  readonly #queues = new Map<string, Fifo<UpstreamEntry>>();
  readonly #online = new Map<string, UpstreamOutlet[]>();
  readonly #rr = new Map<string, number>();
  readonly #acked = new Map<string, IdSet>();
  /** Most new messages waiting per sender (`maxQueuedUpstream`). */
  readonly #maxQueued: number;
  /** False while the emulator stops: a closing connection's in-flight messages are re-queued but not re-sent. */
  pumping = true;

  constructor(maxQueued: number) {
    this.#maxQueued = maxQueued;
  }

  /** Messages waiting for a connection of this sender. */
  queued(senderId: string): number {
    return this.#queues.get(senderId)?.length ?? 0;
  }

  /** Messages waiting for a connection, all senders. */
  queuedTotal(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  /** True when a new message of this sender would exceed `maxQueued`. */
  isFull(senderId: string): boolean {
    return this.queued(senderId) >= this.#maxQueued;
  }

  /** Queues a message and hands it out if a connection has room. */
  enqueue(entry: UpstreamEntry): void {
    this.#queue(entry.senderId).push(entry);
    this.#pump(entry.senderId);
  }

  /** Writes a receipt on the connection its message came on when it has room (as CCS tends to), else queues it. */
  sendOrEnqueue(outlet: UpstreamOutlet, entry: UpstreamEntry): void {
    if (outlet.canTakeUpstream && !outlet.hasUpstream(entry.id)) outlet.sendUpstream(entry, Date.now());
    else this.enqueue(entry);
  }

  /** The outlet is bound and can take upstream messages. */
  online(outlet: UpstreamOutlet): void {
    const senderId = outlet.senderId as string;
    let list = this.#online.get(senderId);
    if (!list) this.#online.set(senderId, (list = []));
    list.push(outlet);
    this.#pump(senderId);
  }

  /** The outlet can take more (an ACK arrived, or its socket drained). */
  capacity(outlet: UpstreamOutlet): void {
    if (outlet.senderId !== undefined) this.#pump(outlet.senderId);
  }

  /** Records that the app server ACKed this message. */
  acked(entry: UpstreamEntry): void {
    let set = this.#acked.get(entry.senderId);
    if (!set) this.#acked.set(entry.senderId, (set = new IdSet()));
    set.add(entry.id);
  }

  /** Whether this sender's upstream message or receipt `id` was ACKed before. */
  wasAcked(senderId: string, id: string): boolean {
    return this.#acked.get(senderId)?.has(id) ?? false;
  }

  /** The outlet is gone; its un-ACKed messages go first on the sender's next connection (PROTOCOL.md "Upstream"). */
  offline(outlet: UpstreamOutlet, inflight: UpstreamEntry[]): void {
    const senderId = outlet.senderId;
    if (senderId === undefined) return;
    const list = this.#online.get(senderId);
    if (list) {
      const at = list.indexOf(outlet);
      if (at !== -1) list.splice(at, 1);
    }
    if (inflight.length > 0) this.#queue(senderId).prepend(inflight);
    if (this.pumping) this.#pump(senderId);
  }

  /** Forgets every queued message and every ACKed id (`reset()`); online outlets stay. */
  clear(): number {
    const dropped = this.queuedTotal();
    this.#queues.clear();
    this.#acked.clear();
    return dropped;
  }

  #queue(senderId: string): Fifo<UpstreamEntry> {
    let q = this.#queues.get(senderId);
    if (!q) this.#queues.set(senderId, (q = new Fifo()));
    return q;
  }

  /** Hands queued messages to the sender's outlets that have room, round robin. */
  #pump(senderId: string): void {
    const q = this.#queues.get(senderId);
    const online = this.#online.get(senderId);
    if (!q || q.length === 0 || !online || online.length === 0) return;
    const now = Date.now();
    let i = this.#rr.get(senderId) ?? 0;
    let misses = 0;
    while (q.length > 0 && misses < online.length) {
      const s = online[i % online.length] as UpstreamOutlet;
      i++;
      if (!s.canTakeUpstream || s.hasUpstream((q.peek() as UpstreamEntry).id)) {
        misses++;
        continue;
      }
      misses = 0;
      s.sendUpstream(q.shift() as UpstreamEntry, now);
    }
    this.#rr.set(senderId, i % online.length);
  }
}
