import type { DeviceGroupResult, DownstreamMessage, OutgoingMessage } from '@ccs-xmpp/stanza';
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

// One shared executor instead of a closure per send(): Promise calls it synchronously, so the
// resolving functions are picked up right after `new Promise` (one allocation fewer per message).
let capturedResolve: (result: SendResult) => void = () => {};
let capturedReject: (error: Error) => void = () => {};
function captureResolvers(resolve: (result: SendResult) => void, reject: (error: Error) => void): void {
  capturedResolve = resolve;
  capturedReject = reject;
}

const WRITTEN = 1;
const SETTLED = 2;
const CALLER_ID = 4;

/**
 * One downstream message in this process: its serialisable {@link OutboxRecord} and its
 * process-local settlement (promise functions, signal, timeout, heap positions) in one fixed-shape
 * object — the only allocation per send besides the promise. The settlement half never reaches a
 * store; a store that serialises records writes only the record's fields. (Keeping the settlement
 * on the object instead of in a map by id spares the hot path a hash insert and delete per message.)
 */
export class Outbound implements OutboxRecord {
  readonly id: string;
  readonly seq: number;
  readonly msg: OutgoingMessage;
  retries = 0;
  resends = 0;
  state: RecordState = 'queued';
  notBefore = 0;
  storeSlot = -1;

  // --- settlement: process-local ---
  /** The caller's promise functions; `undefined` for a record adopted from another process. */
  resolve: ((result: SendResult) => void) | undefined = undefined;
  reject: ((error: Error) => void) | undefined = undefined;
  /** `written`, `settled` and `callerId` as bits: one field instead of three on every pending message (8 bytes each). */
  flags = 0;
  /** Per-call timeout in ms (0: none). */
  timeoutMs = 0;
  /** Position in the outbox's timeout heap (-1: none), so settling removes it at once. */
  timeoutSlot = -1;
  /** Position in the outbox's retry heap (-1: none). */
  retrySlot = -1;
  signal: AbortSignal | undefined = undefined;
  /** When it was last written (`monotonicMs()`): the ACK-latency histogram and the trace channels read it. */
  writtenAt = 0;

  constructor(msg: OutgoingMessage, id: string, seq: number) {
    this.msg = msg;
    this.id = id;
    this.seq = seq;
  }

  /** The caller's promise, its resolving functions kept here. */
  promise(): Promise<SendResult> {
    const promise = new Promise<SendResult>(captureResolvers);
    this.resolve = capturedResolve;
    this.reject = capturedReject;
    return promise;
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
