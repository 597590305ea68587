import type { DeviceGroupResult, DownstreamMessage } from '@ccs-xmpp/stanza';

/** What `send()` takes: a downstream message whose `message_id` the client assigns when absent. */
export type OutgoingMessage = Omit<DownstreamMessage, 'message_id'> & Pick<DownstreamMessage, 'to' | 'condition'> & { message_id?: string };

/** Where an outbound message is. */
export const enum OutState {
  /** In the client's send queue (or about to be). */
  Queued,
  /** Written to a connection; in its in-flight map until ACK/NACK or close. */
  InFlight,
  /** Waiting in the timer heap for a retry (backoff, rate limit). */
  Waiting,
  /** Its promise has settled. It may still sit in a connection's in-flight map (timed out or aborted after it was written), holding its window slot until CCS answers. */
  Settled,
}

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

/** The owner that settles an outbound message when its `AbortSignal` fires. */
export interface AbortOwner {
  abortMessage(out: Outbound): void;
}

/**
 * One downstream message from `send()` to its settlement: a small fixed-shape record, the only
 * allocation per send besides the promise. It is its own `AbortSignal` listener (`handleEvent`),
 * so aborting needs no closure either.
 */
export class Outbound {
  readonly owner: AbortOwner;
  /** The caller's message as given: not copied, so without `message_id` when the client assigned `id`. */
  readonly msg: OutgoingMessage;
  /** Its `message_id`: the caller's, or the one the client assigned. */
  readonly id: string;
  /** Submission order, so messages held back for a rate-limited target go out in the order sent. */
  readonly seq: number;
  resolve!: (result: SendResult) => void;
  reject!: (error: Error) => void;
  state: OutState = OutState.Queued;
  /** NACK retries so far (backoff and rate-limit classes). */
  retries = 0;
  /** Any re-send at all (also draining and connection loss), for `SendResult.retries`. */
  resends = 0;
  /** True once it was written to some connection. */
  written = false;
  /** Its id came from the caller and is in the client's live-id map (generated ids never are). */
  callerId = false;
  /** Per-call timeout in ms (0: none) and its absolute deadline. */
  timeoutMs = 0;
  signal: AbortSignal | undefined = undefined;

  constructor(owner: AbortOwner, msg: OutgoingMessage, id: string, seq: number) {
    this.owner = owner;
    this.msg = msg;
    this.id = id;
    this.seq = seq;
  }

  /** The message as it went out, `message_id` included (a copy when the client assigned the id). */
  sent(): DownstreamMessage {
    const msg = this.msg;
    if (msg.message_id !== undefined) return msg as DownstreamMessage;
    const copy = Object.assign({}, msg) as DownstreamMessage;
    copy.message_id = this.id;
    return copy;
  }

  /** The device token or topic this message goes to, for per-target rate limiting. */
  get target(): string {
    return this.msg.to ?? this.msg.condition ?? '';
  }

  /** `AbortSignal` listener. */
  handleEvent(): void {
    this.owner.abortMessage(this);
  }
}
