import { tinyRecordSize, type Faults } from './faults.js';
import type { SeededDecisions } from './seeded-decisions.js';

/** A NACK a fault decided on. */
export interface FaultNack {
  code: 'SERVICE_UNAVAILABLE' | 'INTERNAL_SERVER_ERROR';
  description: string;
}

const UNAVAILABLE: FaultNack = { code: 'SERVICE_UNAVAILABLE', description: 'The server is temporarily unavailable.' };
const INTERNAL: FaultNack = { code: 'INTERNAL_SERVER_ERROR', description: 'The server encountered an error.' };

/**
 * One connection's effective faults and the decisions they make: whether to cut after a stanza,
 * whether to NACK a message, how long to hold answers, the tiny-write record size. Draws are keyed
 * by the message (`SeededDecisions`), never by timing or connection, so a seed reproduces a run.
 */
export class FaultInjector {
  #faults: Faults = {};
  /** `<message>`s counted towards `cutAfterStanzas` since the faults were applied. */
  #stanzas = 0;
  #tiny = 0;
  readonly #decisions: SeededDecisions;

  constructor(decisions: SeededDecisions) {
    this.#decisions = decisions;
  }

  /** The faults in effect. */
  get faults(): Faults {
    return this.#faults;
  }

  /** Record size of the tiny-writes fault, or 0. */
  get tinyRecordSize(): number {
    return this.#tiny;
  }

  /** `ackDelayMs`, or 0. */
  get ackDelayMs(): number {
    return this.#faults.ackDelayMs ?? 0;
  }

  /** Applies new faults; `cutAfterStanzas` counts from here. Returns the stall to start (ms), or 0. */
  apply(faults: Faults): number {
    this.#faults = faults;
    this.#stanzas = 0;
    this.#tiny = tinyRecordSize(faults);
    return faults.stallMs ?? 0;
  }

  /** Whether the connection is cut right after this stanza (`content`: its JSON), and by which fault. */
  cut(senderId: string | undefined, content: string): string | undefined {
    const f = this.#faults;
    if (f.cutAfterStanzas !== undefined && f.cutAfterStanzas > 0 && ++this.#stanzas >= f.cutAfterStanzas) return 'cutAfterStanzas';
    // Keyed by what the stanza carries (its JSON): the same seed cuts after the same messages; a
    // resend of one draws again (the attempt count), so it is not cut forever.
    if (f.cutProbability !== undefined && this.#decisions.chance('cut', `${String(senderId)}\u0000${content}`, f.cutProbability)) return 'cutProbability';
    return undefined;
  }

  /** The NACK a rate fault gives this downstream message, or undefined. */
  nack(senderId: string, messageId: string): FaultNack | undefined {
    const f = this.#faults;
    // Keyed by the message, not drawn from this connection's stream: the same seed refuses the
    // same messages whichever connection they take and whenever they arrive.
    if (f.serviceUnavailableRate !== undefined && this.#decisions.chance('su', `${senderId}\u0000${messageId}`, f.serviceUnavailableRate)) return UNAVAILABLE;
    if (f.internalErrorRate !== undefined && this.#decisions.chance('ise', `${senderId}\u0000${messageId}`, f.internalErrorRate)) return INTERNAL;
    return undefined;
  }
}
