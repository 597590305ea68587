/**
 * When a drained connection may close (docs/PROTOCOL.md "Control: draining": the client keeps the
 * old connection open for what is still owed, and CCS closes it).
 *
 * Owing nothing is not enough: a message the client wrote before it read `CONNECTION_DRAINING` may
 * still be on its way, and closing then makes it meet a closed stream instead of its
 * `CONNECTION_DRAINING` NACK. So the session sends a XEP-0199 ping right after the control message
 * and waits for the answer (a result, or an error from a client that does not know pings): by TCP
 * ordering everything the client wrote before that answer has been read — and answered — by the
 * time it arrives. A client that never answers is closed at the deadline all the same.
 */
export class DrainClose {
  /** The id of the ping sent after `CONNECTION_DRAINING`. */
  readonly pingId: string;
  /** Close at this time even if the ping is unanswered or upstream is un-ACKed (`drainTimeoutMs`). */
  readonly #deadline: number;
  /** Never close before this, owed or not (`drainMinMs`). */
  readonly #earliest: number;
  #answered = false;

  constructor(now: number, timeoutMs: number, minMs: number, pingId: string) {
    this.#deadline = now + timeoutMs;
    this.#earliest = now + minMs;
    this.pingId = pingId;
  }

  /** True once the client answered the ping. */
  get answered(): boolean {
    return this.#answered;
  }

  /** The client answered an IQ with this id (`result` or `error`); true when it was the ping. */
  answer(id: string): boolean {
    if (id !== this.pingId) return false;
    this.#answered = true;
    return true;
  }

  /**
   * True when the connection may close at `now`: after `drainMinMs`, and either the ping was
   * answered and the connection's upstream messages are all ACKed (`upstreamSettled`), or the
   * deadline passed. (Answers held back by `ackDelayMs` are the session's to wait for: they are
   * written before any close, deadline or not.)
   */
  due(now: number, upstreamSettled: boolean): boolean {
    if (now < this.#earliest) return false;
    return (upstreamSettled && this.#answered) || now >= this.#deadline;
  }
}
