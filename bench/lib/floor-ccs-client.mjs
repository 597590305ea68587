/**
 * The API floor for bench/ccs-client.mjs: the least that any client with `CcsClient`'s public API must
 * do per message, and nothing more — so that the trivial client's rate (bench/lib/trivial-ccs-client.mjs,
 * the ceiling) can be split into what the API itself costs and what `CcsClient` adds to it.
 *
 * The trivial client writes template strings and keeps an id per message in flight. An API that
 * takes the caller's message object and returns a promise per send cannot do less than this:
 *
 * - serialise the caller's object, with a generated `message_id` in it, as XML-safe JSON;
 * - one promise per send, its `resolve` kept until the ACK settles it (in the queue while the message waits,
 *   then in its connection's table of what is on the wire, keyed by the id: a hash table of its own, not a
 *   `Map` — see `IdTable`), with what `CcsClient`'s promise resolves with: a `SendResult` object (`messageId`,
 *   the ACK's `from` as a string, `registrationId`, `retries`);
 * - a bounded queue behind the windows: `trySend` returns the promise, or `undefined` when the queue
 *   is full; `waitForCapacity()` resolves once it is back under half (as `CcsClient`'s does);
 * - ids as long as `CcsClient`'s default ones (packages/ccs/src/message-id.ts: a 10-character
 *   process prefix and a base-36 counter, made as one flat string the same way).
 *
 * Two APIs (`api`), one per client:
 * - `'send'` (the floor): `trySend(message)` returns a promise per send, as above;
 * - `'dispatch'` (the floor of `CcsClient.dispatch`, the promise-free send): `dispatch(message, callback)` returns
 *   `false` when the queue is full (nothing taken; `waitForCapacity()`, then again) and else `true`, and the ACK calls
 *   `callback(undefined, result)` with the same `SendResult`, once and always later (from the socket's `data`, never
 *   inside `dispatch`). The callback is kept where the resolve was: no promise per send, and a caller that passes one
 *   callback for every send (bench/lib/queue-driver.mjs `driveDispatch`) makes no `then` or closure per send either —
 *   what a promise and its `then` cost per pending message is what this API exists to save. A callback that throws is
 *   not caught (the rest of that read's ACKs would be lost): the floor does not guard what a real client must.
 *   Each client is built for one API, so that neither pays for telling them apart per message: `trySend` on a
 *   `'dispatch'` client throws, and `dispatch` on a `'send'` one.
 *
 * Two ways to serialise (`serialise`):
 * - `'encoder'` (the floor): `GcmEncoder.appendDownstream` of @ccs-xmpp/stanza, `CcsClient`'s own
 *   writer — plain objects written as JSON straight into a slab, no string made (it falls back to
 *   `JSON.stringify` for anything else), the stanza id the message id as `CcsClient` writes it, the
 *   stanzas of a read or a tick handed to the socket as one buffer, the slab rewound once the socket
 *   has taken them. It is cheaper than `JSON.stringify`
 *   (bench/ANALYSIS.md, tenth pass, "the API floor"), so a floor built on `JSON.stringify` is not one.
 * - `'stringify'`: `JSON.stringify`, the id spliced in as the last field, three `indexOf`s for `<`,
 *   `&` and `>` (escaped when present; never in the benchmark), the stanza as a template string
 *   appended to the connection's batch string, as the trivial client writes (no stanza id).
 *
 * Nothing else: no validation, no copy of the message (a queued message is the caller's object,
 * serialised when it is written: a caller must not change it before then), no resend, no NACK
 * handling (the stub only ACKs; the promise has no reject path), no timeouts, no reconnect, no
 * stats, latency or diagnostics. The handshake is the trivial client's (`open`).
 */
import { randomBytes } from 'node:crypto';
import { GcmEncoder } from '@ccs-xmpp/stanza';
import { open } from './trivial-ccs-client.mjs';

const ID_KEY = Buffer.from('"message_id":"', 'latin1');
const FROM_KEY = Buffer.from('"from":"', 'latin1');
const MESSAGE_END = Buffer.from('</message>', 'latin1');
const QUOTE = 0x22;
const DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** Room for a base-36 counter below 2^53. */
const MAX_DIGITS = 11;
const XML_SPECIAL_ALL = /[<&>]/g;
const XML_ENTITY = { '<': '&lt;', '&': '&amp;', '>': '&gt;' };

/**
 * `<prefix><counter in base 36>`, the prefix 9 random characters and `-` (the length of
 * `CcsClient`'s process prefix). The digits are written after the prefix's bytes in a scratch
 * buffer and read back as one flat string, as `MessageIdGenerator` does: `prefix + digits` would be
 * a cons string that V8 flattens into a second string when the `Map` hashes it.
 */
class Ids {
  constructor() {
    const r = randomBytes(9);
    let prefix = '';
    for (const b of r) prefix += ALPHABET.charAt(b & 63);
    this.prefix = `${prefix}-`;
    this.scratch = Buffer.alloc(this.prefix.length + MAX_DIGITS);
    this.scratch.write(this.prefix, 0, 'latin1');
    this.n = 0;
  }

  next() {
    let n = this.n++;
    let digits = 1;
    for (let x = n; x >= 36; x = Math.floor(x / 36)) digits++;
    const end = this.prefix.length + digits;
    let i = end;
    do {
      this.scratch[--i] = DIGITS.charCodeAt(n % 36);
      n = Math.floor(n / 36);
    } while (n > 0);
    return this.scratch.latin1Slice(0, end);
  }
}

/** `new Promise(capture)` leaves the promise's resolve function here: no closure made per send. */
let captured;
const capture = (resolve) => {
  captured = resolve;
};

/** Characters of an id's end that its hash reads: a generated id is a fixed prefix and a counter. */
const TAIL = 6;

/**
 * message_id → a promise's resolve: open addressing with linear probing over parallel arrays (the
 * id, its hash, the value), deletion by shifting the entries after it back, so an ACK allocates
 * nothing and no tombstone or dropped table is left. Ids are hashed by their length and last
 * {@link TAIL} characters (the floor's own ids: a prefix and a counter), and compared as strings
 * only when the hashes match (an ACK's id is a slice of the read, which V8 compares out of line).
 *
 * Not a `Map`: a `Map` that every message passes through (one insert, one delete, the window's
 * others in flight) re-allocates its table every few hundred messages and kept young objects alive
 * past the scavenges that should have freed them — at 100 × 1 each scavenge promoted ~3 MB and kept
 * 5.8 MB young (`--trace-gc-nvp`). Not a dictionary-mode object either: its keys are internalised,
 * an ACK's id too, and it cost more on the main thread than the `Map` saved in the collector
 * (bench/ANALYSIS.md, tenth pass, "the API floor"). `CcsClient` has its own such table
 * (packages/ccs/src/inflight-table.ts), chained through its records.
 */
export class IdTable {
  constructor() {
    this.mask = 63;
    this.keys = new Array(64).fill(undefined);
    this.values = new Array(64).fill(undefined);
    this.hashes = new Int32Array(64);
    this.size = 0;
  }

  static hash(id) {
    const len = id.length;
    let h = len;
    for (let i = len > TAIL ? len - TAIL : 0; i < len; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x9e3779b1);
    return h ^ (h >>> 15);
  }

  set(id, value) {
    // At most half full: probes stay short.
    if ((this.size + 1) * 2 > this.mask + 1) this.grow();
    this.put(id, value, IdTable.hash(id));
    this.size++;
  }

  put(id, value, h) {
    const { keys, mask } = this;
    let i = h & mask;
    while (keys[i] !== undefined) i = (i + 1) & mask;
    keys[i] = id;
    this.values[i] = value;
    this.hashes[i] = h;
  }

  grow() {
    const { keys, values, hashes } = this;
    const slots = (this.mask + 1) * 2;
    this.mask = slots - 1;
    this.keys = new Array(slots).fill(undefined);
    this.values = new Array(slots).fill(undefined);
    this.hashes = new Int32Array(slots);
    for (let i = 0; i < keys.length; i++) if (keys[i] !== undefined) this.put(keys[i], values[i], hashes[i]);
  }

  /** The value of `id`, removed; undefined when there is none. */
  take(id) {
    const { keys, values, hashes, mask } = this;
    const h = IdTable.hash(id);
    let i = h & mask;
    for (;;) {
      const k = keys[i];
      if (k === undefined) return undefined;
      if (hashes[i] === h && k === id) break;
      i = (i + 1) & mask;
    }
    const value = values[i];
    this.size--;
    // Shift back every entry after it, up to the next empty slot, that would not be found past the hole.
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (keys[j] === undefined) break;
      const home = hashes[j] & mask;
      if (i <= j ? home <= i || home > j : home <= i && home > j) {
        keys[i] = keys[j];
        values[i] = values[j];
        hashes[i] = hashes[j];
        i = j;
      }
    }
    keys[i] = undefined;
    values[i] = undefined;
    return value;
  }
}

/** The same with a `Map` (`table: 'map'`), to show what the `Map` costs. */
class MapTable {
  constructor() {
    this.byId = new Map();
  }

  get size() {
    return this.byId.size;
  }

  set(id, value) {
    this.byId.set(id, value);
  }

  take(id) {
    const value = this.byId.get(id);
    if (value !== undefined) this.byId.delete(id);
    return value;
  }
}

/** One socket: how many of its messages are on the wire, and what is not yet written. */
class Conn {
  constructor(socket, table) {
    this.socket = socket;
    /**
     * message_id → how it settles (its promise's resolve, or its dispatch callback), for the messages on this
     * connection's wire (written or being written).
     */
    this.waiting = table === 'map' ? new MapTable() : new IdTable();
    /** `'stringify'`: the stanzas not yet written. */
    this.batch = '';
    /** `'encoder'`: the run of stanzas not yet written, and writes the socket has not called back (the slab is rewound at none). */
    this.enc = new GcmEncoder();
    this.writes = 0;
    this.written = () => {
      if (--this.writes === 0) this.enc.rewind();
    };
    /** The bytes after the last complete `</message>` of the last read. */
    this.rest = Buffer.alloc(0);
  }
}

export class FloorCcsClient {
  /**
   * @param {{ host: string, port: number, ca: string, senderId: string, apiKey: string, maxPending: number, maxQueued: number,
   *   connections: number, serialise?: 'encoder' | 'stringify', table?: 'hash' | 'map', api?: 'send' | 'dispatch' }} o
   */
  constructor(o) {
    this.o = o;
    /** `api: 'dispatch'`: messages settle through `dispatch`'s callback, not a promise. */
    this.callbacks = o.api === 'dispatch';
    if (!this.callbacks && o.api !== undefined && o.api !== 'send') throw new Error(`unknown api ${o.api}: send or dispatch`);
    this.maxPending = o.maxPending;
    this.maxQueued = o.maxQueued;
    this.stringify = o.serialise === 'stringify';
    this.ids = new Ids();
    /**
     * The queue: rings of messages and how each settles (its promise's resolve or its dispatch callback), `count` of
     * them from `head`; grown
     * by doubling up to maxQueued (an idle client holds no 10 000-slot arrays). The resolves wait here, not in a
     * table by id: the first version kept every outstanding message's resolve in one `Map` (10 000+ entries), and
     * at 100 × 1 its GC pauses were ~1.5× `CcsClient`'s and its GC helper threads ~2.5× (bench/ANALYSIS.md, tenth
     * pass, "the API floor").
     */
    this.cap = Math.min(o.maxQueued, 1024);
    this.ring = new Array(this.cap).fill(undefined);
    this.ringSettles = new Array(this.cap).fill(undefined);
    this.head = 0;
    this.count = 0;
    /** waitForCapacity() callers, resolved when the queue is back under half. */
    this.capacityWaiters = [];
    this.conns = [];
    /** Where the search for a connection with room starts (round robin). */
    this.next = 0;
    this.flushScheduled = false;
    this.flush = () => {
      this.flushScheduled = false;
      for (const c of this.conns) this.send(c);
    };
  }

  async connect() {
    const sockets = await Promise.all(Array.from({ length: this.o.connections }, () => open(this.o)));
    this.conns = sockets.map((s) => new Conn(s, this.o.table));
    for (const c of this.conns) c.socket.on('data', (chunk) => this.onData(c, chunk));
  }

  /** A connection with room in its window, or undefined. */
  pick() {
    const conns = this.conns;
    for (let k = 0; k < conns.length; k++) {
      const c = conns[this.next];
      this.next = this.next + 1 === conns.length ? 0 : this.next + 1;
      if (c.waiting.size < this.maxPending) return c;
    }
    return undefined;
  }

  /**
   * Serialises `msg` with a fresh id onto `c`'s run (written by `send`); its ACK will come on `c`. The id is made
   * here, when the message leaves the queue: nothing needs it before, and a queued message then keeps no id alive.
   */
  append(c, msg, settle) {
    const id = this.ids.next();
    c.waiting.set(id, settle);
    if (!this.stringify) {
      c.enc.appendDownstream(msg, id);
      return;
    }
    let json = JSON.stringify(msg);
    // Three indexOfs: a regular expression's character class is scanned char by char (gcm-encode.ts measured ~10× slower).
    if (json.indexOf('<') !== -1 || json.indexOf('&') !== -1 || json.indexOf('>') !== -1) json = json.replace(XML_SPECIAL_ALL, (ch) => XML_ENTITY[ch]);
    c.batch += json.length > 2
      ? `<message id=""><gcm xmlns="google:mobile:data">${json.slice(0, -1)},"message_id":"${id}"}</gcm></message>`
      : `<message id=""><gcm xmlns="google:mobile:data">{"message_id":"${id}"}</gcm></message>`;
  }

  /** Writes what `c` has appended, as one write. */
  send(c) {
    if (this.stringify) {
      if (c.batch !== '') {
        c.socket.write(c.batch);
        c.batch = '';
      }
      return;
    }
    const run = c.enc.takeRun();
    if (run !== undefined) {
      c.writes++;
      c.socket.write(run, c.written);
    }
  }

  /** The message's promise (resolved with a SendResult at the ACK), or undefined when the queue is full. */
  trySend(message) {
    if (this.callbacks) throw new Error('this floor was built with api: \'dispatch\': use dispatch(message, callback)');
    // Straight to a connection only when nothing waits before it; the queue only fills while every window is full.
    const conn = this.count === 0 ? this.pick() : undefined;
    if (conn === undefined && this.count >= this.maxQueued) return undefined;
    const promise = new Promise(capture);
    this.take(conn, message, captured);
    return promise;
  }

  /**
   * `CcsClient.dispatch`'s contract: `false` when the queue is full (nothing taken), else `true`, and `callback(undefined,
   * result)` once at the ACK with a SendResult — never from inside this call (only the socket's `data` settles).
   */
  dispatch(message, callback) {
    if (!this.callbacks) throw new Error('this floor was built with api: \'send\': use trySend(message)');
    const conn = this.count === 0 ? this.pick() : undefined;
    if (conn === undefined && this.count >= this.maxQueued) return false;
    this.take(conn, message, callback);
    return true;
  }

  /** `message` onto `conn`'s run (written at the end of this tick), or into the queue when `conn` is undefined. */
  take(conn, message, settle) {
    if (conn !== undefined) {
      this.append(conn, message, settle);
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(this.flush);
      }
    } else {
      if (this.count === this.cap) this.grow();
      const at = (this.head + this.count++) % this.cap;
      this.ring[at] = message;
      this.ringSettles[at] = settle;
    }
  }

  /** Doubles the queue's rings (at most to maxQueued), oldest first from slot 0. */
  grow() {
    const cap = Math.min(this.cap * 2, this.maxQueued);
    const take = (ring, fill) => {
      const next = new Array(cap).fill(fill);
      for (let k = 0; k < this.count; k++) next[k] = ring[(this.head + k) % this.cap];
      return next;
    };
    this.ring = take(this.ring, undefined);
    this.ringSettles = take(this.ringSettles, undefined);
    this.head = 0;
    this.cap = cap;
  }

  /** Resolves at once while the queue has room, else when it is back under half. */
  waitForCapacity() {
    if (this.count < this.maxQueued) return Promise.resolve();
    return new Promise((resolve) => this.capacityWaiters.push(resolve));
  }

  /** ACKs: settle each, then refill this connection's window from the queue and write it in one go. */
  onData(c, chunk) {
    const buf = c.rest.length > 0 ? Buffer.concat([c.rest, chunk]) : chunk;
    const waiting = c.waiting;
    let pos = 0;
    for (;;) {
      const end = buf.indexOf(MESSAGE_END, pos);
      if (end < 0) break;
      const k = buf.indexOf(ID_KEY, pos);
      if (k >= 0 && k < end) {
        const idStart = k + ID_KEY.length;
        const id = buf.latin1Slice(idStart, buf.indexOf(QUOTE, idStart));
        const settle = waiting.take(id);
        if (settle !== undefined) {
          // The API settles a send with a SendResult: the id, the ACK's `from`, the canonical token
          // (none in a plain ACK) and the retry count — an object and the `from` as a string.
          const f = buf.indexOf(FROM_KEY, pos);
          let from;
          if (f >= 0 && f < end) {
            const fromStart = f + FROM_KEY.length;
            from = buf.latin1Slice(fromStart, buf.indexOf(QUOTE, fromStart));
          }
          const result = { messageId: id, from, registrationId: undefined, retries: 0 };
          if (this.callbacks) settle(undefined, result);
          else settle(result);
        }
      }
      pos = end + MESSAGE_END.length;
    }
    c.rest = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
    while (waiting.size < this.maxPending && this.count > 0) {
      const i = this.head;
      this.append(c, this.ring[i], this.ringSettles[i]);
      this.ring[i] = undefined;
      this.ringSettles[i] = undefined;
      this.head = i + 1 === this.cap ? 0 : i + 1;
      this.count--;
    }
    this.send(c);
    if (this.capacityWaiters.length > 0 && this.count <= this.maxQueued >> 1) {
      const waiters = this.capacityWaiters;
      this.capacityWaiters = [];
      for (const w of waiters) w();
    }
  }

  /** Messages written or about to be (this tick) and not yet ACKed: the benchmark's memory mode waits for them. */
  get inflight() {
    let n = 0;
    for (const c of this.conns) n += c.waiting.size;
    return n;
  }

  close() {
    for (const c of this.conns) {
      // Closing, so a reset from the peer (the stub stopped before our end reached it) is no
      // news: without a listener it would be an uncaught exception in the process that closed.
      c.socket.on('error', ignore);
      c.socket.end('</stream:stream>');
    }
    this.conns = [];
  }
}

function ignore() {}
