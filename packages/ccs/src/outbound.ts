import type { DeviceGroupResult, DownstreamMessage, OutgoingMessage } from '@ccs-xmpp/stanza';
import type { CallbackQueue } from './callback-queue.js';
import type { CcsError } from './errors.js';
import type { InflightTable } from './inflight-table.js';
import { generatedId } from './message-id.js';
import type { OutboxRecord, RecordState } from './store.js';

// What `send()` takes (a downstream message whose `message_id` the client assigns when absent) is
// the codec's type, so that the stanza and ccs packages cannot disagree on it.
export type { OutgoingMessage };

/** What `send()` resolves with: CCS accepted the message. */
export interface SendResult {
  /** The message's `message_id` (assigned by the client when the caller gave none). */
  messageId: string;
  /** The ACK's `from` (the target token or topic), when CCS included it. */
  from: string | undefined;
  /**
   * A canonical registration token: CCS says to use this one from now on instead of the token
   * the message was sent to. `undefined` when CCS sent none.
   */
  registrationId: string | undefined;
  /** How many times the message was retried (NACKs of retried classes, connection losses) before it was ACKed. */
  retries: number;
  /**
   * For a message to a device group (`to` a notification key): how many of the group's tokens it
   * reached (`success`), how many it did not (`failure`) and which (`failedRegistrationIds`), as
   * the ACK counted them. Absent for a plain ACK. A partial failure is still an ACK: retry the
   * failed tokens with backoff if they matter.
   */
  deviceGroup?: DeviceGroupResult;
}

/**
 * The callback of `dispatch()`: called once, later (never inside `dispatch()` itself), with either
 * the error `send()` would reject with and `undefined`, or `undefined` and the result `send()`
 * would resolve with. Exactly one of the two is set.
 */
export type SendCallback = (error: CcsError | undefined, result: SendResult | undefined) => void;

/** The resolve function of `send()`'s promise. */
type Resolve = (result: SendResult | PromiseLike<SendResult>) => void;

/**
 * A {@link SendResult} made by a constructor rather than an object literal, still a plain object
 * (its prototype is `Object.prototype`, so it compares equal to a literal with the same fields).
 * V8 gives every object literal an allocation site and, while the site is tracked, a memento behind
 * each object, which every scavenge looks up for each survivor; the results of one socket read
 * live until the caller's reactions run, and V8 judged the `{ messageId, … }` literal's site
 * "all survive", moving it to "maybe tenure" and, once the young generation was at its largest,
 * to old-space allocation (`--trace-pretenuring-statistics`, bench/ccs-client.mjs at 100 × 16;
 * bench/ANALYSIS.md, sixth pass). A constructor's objects have no allocation site.
 */
const AckResult = function (this: SendResult, messageId: string, from: string | undefined, registrationId: string | undefined, retries: number): void {
  this.messageId = messageId;
  this.from = from;
  this.registrationId = registrationId;
  this.retries = retries;
} as unknown as new (messageId: string, from: string | undefined, registrationId: string | undefined, retries: number) => SendResult;
(AckResult as unknown as { prototype: object }).prototype = Object.prototype;

/** The {@link SendResult} of an ACKed message (see `AckResult` for why not a literal). */
export function sendResult(messageId: string, from: string | undefined, registrationId: string | undefined, retries: number): SendResult {
  return new AckResult(messageId, from, registrationId, retries);
}

// One shared executor instead of a closure per send(): Promise calls it synchronously, so the
// resolve function is picked up right after `new Promise` (one allocation fewer per message). The
// reject function is not kept: a failure settles the promise through `resolve` with a rejected
// promise (see `settleCaller`), so each pending message holds one function instead of two (~70
// bytes; bench/ccs-client.mjs memory).
let capturedResolve: Resolve = () => {};
function captureResolve(resolve: Resolve): void {
  capturedResolve = resolve;
}

/** What a spare record's `msg` is (`release`): nothing of the message it carried, and still an object. */
const RELEASED: OutgoingMessage = Object.freeze({});

const WRITTEN = 1;
const SETTLED = 2;
const CALLER_ID = 4;
/** `caller` is a `dispatch()` callback, not a promise's resolve function. */
const CALLBACK = 8;
/** The flags' bits from here on: the generator's prefix slot of a record whose `key` is a counter. */
const SLOT_SHIFT = 4;

/**
 * The fields most messages never need (a timeout, an abort signal, a NACK or a resend): one object,
 * made the first time one of them is set, so that a plain send carries one field for all six.
 */
class RareFields {
  retries = 0;
  resends = 0;
  notBefore = 0;
  timeoutMs = 0;
  timeoutSlot = -1;
  retrySlot = -1;
  signal: AbortSignal | undefined = undefined;
}

/**
 * One downstream message in this process: its serialisable {@link OutboxRecord} and its
 * process-local settlement (the promise's resolve function or the `dispatch()` callback, signal, timeout, heap positions) in one
 * fixed-shape object — the only allocation per send besides the promise. The settlement half never
 * reaches a store; a store that serialises records writes only the record's fields. (Keeping the
 * settlement on the object instead of in a map by id spares the hot path a hash insert and delete
 * per message.) Every pending message holds one, so it is kept small: the fields a plain send
 * leaves at their defaults live in {@link RareFields}, made on first use; flags share one field.
 */
export class Outbound implements OutboxRecord {
  // Not readonly: a settled record may be reused for a new message (`reuse`, see Outbox's spare records).
  /**
   * The id, or — a generated id nobody has read yet — its counter under the prefix in the flags'
   * slot bits (`generatedId`). The send path (the write, the in-flight table, the ACK) works with
   * the counter; `id` makes the string on first read and keeps it here. 32 bytes per pending
   * message and ~80 ns per send were the id string's (bench/ANALYSIS.md, eleventh pass).
   */
  key: string | number;
  seq: number;
  msg: OutgoingMessage;
  state: RecordState = 'queued';
  storeSlot = -1;
  /** `written`, `settled`, `callerId` and whether `caller` is a callback as bits, and the id's prefix slot above them: one field instead of five on every pending message. */
  flags = 0;
  /** When it was last written, as a `tickStamp()` (an integer: no number box per message): the ACK-latency histogram and the trace channels read it. */
  writtenAt = 0;
  /**
   * Who waits for the outcome: the resolve function of `send()`'s promise, or (the `CALLBACK` flag)
   * the callback given to `dispatch()` — one field for either, so a pending message carries no
   * more for having two ways to be settled. `undefined` for a record adopted from another process,
   * and once settled.
   */
  caller: Resolve | SendCallback | undefined = undefined;
  #rare: RareFields | undefined = undefined;
  /** The next message in its connection's in-flight chain ({@link InflightTable}). */
  next: Outbound | undefined = undefined;
  /** Its id's hash in that table (compared before the id, see {@link InflightTable}). */
  idHash = 0;

  /** @param key the id, or a generated id's counter under the prefix in `slot` (`MessageIdGenerator.slot`). */
  constructor(msg: OutgoingMessage, key: string | number, seq: number, slot = 0) {
    this.msg = msg;
    this.key = key;
    this.seq = seq;
    this.flags = slot << SLOT_SHIFT;
  }

  /** The `message_id` on the wire (made from the counter on first read, and kept). */
  get id(): string {
    const key = this.key;
    if (typeof key === 'string') return key;
    const id = generatedId(this.flags >>> SLOT_SHIFT, key);
    this.key = id;
    return id;
  }

  /** The prefix slot of a generated id kept as a counter (`key` a number). */
  get slot(): number {
    return this.flags >>> SLOT_SHIFT;
  }

  /**
   * Its id as a string that equals it (the ACK's, which the in-flight table matched): later readers
   * (the result, the trace channels, the store) take it instead of making another.
   */
  knownId(id: string): void {
    this.key = id;
  }

  /**
   * Makes this record, {@link release}d, the record of a new message. The outbox reuses the records
   * of ACKed plain messages (see its spare records), so that a record is allocated once and then
   * lives in the old generation. Such a record is as the constructor left it but for its flags: no
   * rare fields (it was plain), out of the in-flight table (`next` cleared), `storeSlot` -1 (taken
   * from the queue), and `state`, `writtenAt` and `idHash` are set before they are read (by the
   * store's `append`, the write and the in-flight table's `add`).
   */
  reuse(msg: OutgoingMessage, key: string | number, seq: number, slot = 0): this {
    this.msg = msg;
    this.key = key;
    this.seq = seq;
    this.flags = slot << SLOT_SHIFT;
    return this;
  }

  /** Lets go of the message and id of a settled record that nothing else refers to any more, so that a spare record keeps no payload alive. */
  release(): void {
    this.msg = RELEASED;
    this.key = '';
  }

  /** The caller's promise, its resolve function kept here. */
  promise(): Promise<SendResult> {
    const promise = new Promise<SendResult>(captureResolve);
    this.caller = capturedResolve;
    return promise;
  }

  /** Keeps `dispatch()`'s callback instead of a promise: no allocation but the record. */
  callback(fn: SendCallback): true {
    this.caller = fn;
    this.flags |= CALLBACK;
    return true;
  }

  /**
   * Settles the caller (once: later calls do nothing). A promise: an error rejects it through
   * `resolve` (a rejected promise adopted), so the caller sees the same rejection two microtasks
   * later. A callback: queued on `callbacks`, to run after the current synchronous work, never
   * from inside the outbox. False when no caller waits (an adopted record): the outcome is the
   * owner's to report.
   */
  settleCaller(outcome: SendResult | Error, callbacks: CallbackQueue): boolean {
    const caller = this.caller;
    if (caller === undefined) return false;
    this.caller = undefined;
    if ((this.flags & CALLBACK) === 0) (caller as Resolve)(outcome instanceof Error ? Promise.reject(outcome) : outcome);
    else callbacks.push(caller as SendCallback, outcome);
    return true;
  }

  #rareFields(): RareFields {
    return (this.#rare ??= new RareFields());
  }

  /** NACK retries so far. */
  get retries(): number {
    return this.#rare === undefined ? 0 : this.#rare.retries;
  }

  set retries(n: number) {
    if (n !== 0 || this.#rare !== undefined) this.#rareFields().retries = n;
  }

  /** Re-sends so far (`SendResult.retries`). */
  get resends(): number {
    return this.#rare === undefined ? 0 : this.#rare.resends;
  }

  set resends(n: number) {
    if (n !== 0 || this.#rare !== undefined) this.#rareFields().resends = n;
  }

  /** Epoch ms before which it must not be written again (0: no delay). */
  get notBefore(): number {
    return this.#rare === undefined ? 0 : this.#rare.notBefore;
  }

  set notBefore(at: number) {
    if (at !== 0 || this.#rare !== undefined) this.#rareFields().notBefore = at;
  }

  /** Per-call timeout in ms (0: none). */
  get timeoutMs(): number {
    return this.#rare === undefined ? 0 : this.#rare.timeoutMs;
  }

  set timeoutMs(ms: number) {
    if (ms !== 0 || this.#rare !== undefined) this.#rareFields().timeoutMs = ms;
  }

  /** Position in the outbox's timeout heap (-1: none), so settling removes it at once. */
  get timeoutSlot(): number {
    return this.#rare === undefined ? -1 : this.#rare.timeoutSlot;
  }

  set timeoutSlot(slot: number) {
    if (slot !== -1 || this.#rare !== undefined) this.#rareFields().timeoutSlot = slot;
  }

  /** Position in the outbox's retry heap (-1: none). */
  get retrySlot(): number {
    return this.#rare === undefined ? -1 : this.#rare.retrySlot;
  }

  set retrySlot(slot: number) {
    if (slot !== -1 || this.#rare !== undefined) this.#rareFields().retrySlot = slot;
  }

  /** The caller's `AbortSignal`, while it is followed. */
  get signal(): AbortSignal | undefined {
    return this.#rare === undefined ? undefined : this.#rare.signal;
  }

  set signal(signal: AbortSignal | undefined) {
    if (signal !== undefined || this.#rare !== undefined) this.#rareFields().signal = signal;
  }

  /** None of the rare fields was ever set and its id is generated: no timeout, signal, retry slot or live-id entry to undo when it settles. */
  get plain(): boolean {
    return this.#rare === undefined && (this.flags & CALLER_ID) === 0;
  }

  /** True once written to some connection. */
  get written(): boolean {
    return (this.flags & WRITTEN) !== 0;
  }

  set written(on: boolean) {
    this.flags = on ? this.flags | WRITTEN : this.flags & ~WRITTEN;
  }

  /** The promise has settled (or, adopted, the outcome was reported): the record is gone from the store. */
  get settled(): boolean {
    return (this.flags & SETTLED) !== 0;
  }

  set settled(on: boolean) {
    this.flags = on ? this.flags | SETTLED : this.flags & ~SETTLED;
  }

  /** Its id came from the caller and is in the outbox's live-id map (generated ids never are). */
  get callerId(): boolean {
    return (this.flags & CALLER_ID) !== 0;
  }

  set callerId(on: boolean) {
    this.flags = on ? this.flags | CALLER_ID : this.flags & ~CALLER_ID;
  }

  /** The device token or topic (read from the message: a field per message would cost 4–8 bytes of each pending one). */
  get target(): string {
    return this.msg.to ?? this.msg.condition ?? '';
  }

  /** The message as it went out, `message_id` included (a copy when the client assigned the id). */
  sent(): DownstreamMessage {
    const msg = this.msg;
    if (msg.message_id !== undefined) return msg as DownstreamMessage;
    const copy = Object.assign({}, msg) as DownstreamMessage;
    copy.message_id = this.id;
    return copy;
  }
}
