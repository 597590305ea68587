/**
 * The flow-control check (CCS document §"Flow Control": at most 1000 pending messages per
 * connection). A downstream message is un-answered here from its arrival until its ACK or NACK is
 * written; one connection counts its most un-answered messages at once and every message that
 * arrived past the window. Answers written but not yet read by the client are invisible to the
 * server, so the count errs low, never high: a client counted here did break the window.
 */

/** The window and what to do past it (the emulator's `maxPendingDownstream`, `strictFlowControl`). */
export interface FlowControlOptions {
  readonly maxPendingDownstream: number;
  /** Close the connection (`policy-violation`) past the window instead of only counting. */
  readonly strict: boolean;
}

/** One connection's flow-control record, as `connections()` shows it. */
export interface FlowControlStats {
  /** Most un-answered downstream messages the client had here at once. */
  maxUnanswered: number;
  /** Downstream messages that arrived past the window. */
  violations: number;
}

/** The check for one connection. */
export class FlowControlCheck {
  readonly stats: FlowControlStats = { maxUnanswered: 0, violations: 0 };
  readonly #options: FlowControlOptions;

  constructor(options: FlowControlOptions) {
    this.#options = options;
  }

  /**
   * A downstream message arrived while `unanswered` (it included) are un-answered. Returns `ok`,
   * `violation` (past the window: counted), or `close` (past it under `strict`).
   */
  arrive(unanswered: number): 'ok' | 'violation' | 'close' {
    const s = this.stats;
    if (unanswered > s.maxUnanswered) s.maxUnanswered = unanswered;
    if (unanswered <= this.#options.maxPendingDownstream) return 'ok';
    s.violations++;
    return this.#options.strict ? 'close' : 'violation';
  }

  /** The message a `policy-violation` stream error carries. */
  get closeText(): string {
    return `more than ${this.#options.maxPendingDownstream} downstream messages un-answered: respect the flow-control window`;
  }
}
