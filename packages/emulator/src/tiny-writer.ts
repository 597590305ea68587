import type { XmppConnection } from '@ccs-xmpp/stream';

/**
 * The tiny-writes fault's output: one small write at a time, the next only once the socket has
 * flushed the previous one, so that each becomes its own TLS record (corked or queued writes
 * would be coalesced into one record by the TLS layer).
 */
export class TinyWriter {
  readonly #conn: XmppConnection;
  /** Bytes still to write, and how far into the first buffer. */
  #queue: Buffer[] = [];
  #offset = 0;
  #pumping = false;
  /** Record size; 0 once the fault is off (what is queued is still written in small records). */
  size = 0;

  constructor(conn: XmppConnection) {
    this.#conn = conn;
  }

  /** True while the fault is on or bytes are still queued: every write must go through here then, to keep order. */
  get active(): boolean {
    return this.size > 0 || this.#queue.length > 0;
  }

  write(data: string | Buffer): void {
    this.#queue.push(Buffer.from(data));
    if (!this.#pumping) {
      this.#pumping = true;
      setImmediate(this.#pump);
    }
  }

  /** Writes what is still queued in one go (before a clean close). */
  flush(): void {
    if (this.#queue.length === 0 || !this.#conn.writable) return;
    const head = this.#queue[0] as Buffer;
    this.#queue[0] = head.subarray(this.#offset);
    this.#conn.send(Buffer.concat(this.#queue));
    this.clear();
  }

  /** Forgets what is queued (the connection is gone). */
  clear(): void {
    this.#queue = [];
    this.#offset = 0;
  }

  readonly #pump = (): void => {
    const socket = this.#conn.rawSocket;
    if (!this.#conn.writable) {
      this.#pumping = false;
      this.clear();
      return;
    }
    if (socket.writableLength === 0) {
      const head = this.#queue[0];
      if (head === undefined) {
        this.#pumping = false;
        return;
      }
      const end = Math.min(head.length, this.#offset + Math.max(1, this.size || 7));
      this.#conn.send(head.subarray(this.#offset, end));
      this.#offset = end;
      if (end >= head.length) {
        this.#queue.shift();
        this.#offset = 0;
      }
    }
    setImmediate(this.#pump);
  };
}
