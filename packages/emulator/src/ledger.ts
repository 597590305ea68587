/**
 * The oracle: what the emulator delivered to simulated devices and which upstream messages the
 * app server ACKed, with duplicate counts. Tests prove at-least-once delivery from it
 * (`downstreamUnique` = messages sent; `upstreamUnacked` = 0) and measure duplicates.
 */

/** Totals, as `CcsEmulator.ledger()` returns them. */
export interface LedgerTotals {
  /** Downstream messages ACKed and handed to a device (or topic/condition), duplicates included. */
  downstreamDelivered: number;
  /** Distinct (sender, message_id) pairs among those. */
  downstreamUnique: number;
  /** `downstreamDelivered - downstreamUnique`: re-sends of a message that had already been delivered. */
  downstreamDuplicates: number;
  /** NACKs sent, by error code (stanza errors are not NACKs: see `stanzaErrors`). */
  nacked: Record<string, number>;
  /** `<message type="error">` stanza errors sent. */
  stanzaErrors: number;
  /** Upstream messages created (`injectUpstream` and the simulated devices' `upstreamRate`). */
  upstreamInjected: number;
  /** Upstream messages of the simulated devices (`upstreamRate`) dropped because `maxQueuedUpstream` already waited for a connection. */
  upstreamDropped: number;
  /** Upstream stanzas written, re-sends included. */
  upstreamSent: number;
  /** Distinct upstream messages the app server ACKed. */
  upstreamAcked: number;
  /** Upstream messages not ACKed yet (queued or in flight). */
  upstreamUnacked: number;
  /** ACKs for an upstream message that had already been ACKed (a duplicate the app server processed). */
  upstreamDuplicatesAcked: number;
  /** Delivery receipts created. */
  receiptsSent: number;
  /** Distinct receipts the app server ACKed. */
  receiptsAcked: number;
  /** Downstream messages that arrived past a connection's flow-control window, all connections. */
  flowControlViolations: number;
}

/** One delivery to a simulated device, as `deliveredTo` lists it. */
export interface Delivery {
  message_id: string;
  data?: object;
}

import { IdSet } from './id-set.js';

/** Mutable counters; the emulator and its connections write them directly (no events on the hot path). */
export class Ledger {
  downstreamDelivered = 0;
  downstreamUnique = 0;
  readonly nacked: Record<string, number> = {};
  stanzaErrors = 0;
  upstreamInjected = 0;
  upstreamDropped = 0;
  upstreamSent = 0;
  upstreamAcked = 0;
  upstreamDuplicatesAcked = 0;
  receiptsSent = 0;
  receiptsAcked = 0;
  flowControlViolations = 0;
  readonly #seen = new Map<string, IdSet>();
  // The last sender seen: one connection's messages skip the map lookup.
  #lastSender: string | undefined;
  #lastSeen: IdSet | undefined;
  readonly #byTarget = new Map<string, Delivery[]>();
  readonly #keepDeliveries: boolean;

  constructor(keepDeliveries: boolean) {
    this.#keepDeliveries = keepDeliveries;
  }

  /** Back to the start state: every counter 0, every delivery and id forgotten (`reset()`). */
  reset(): void {
    this.downstreamDelivered = 0;
    this.downstreamUnique = 0;
    for (const code of Object.keys(this.nacked)) delete this.nacked[code];
    this.stanzaErrors = 0;
    this.upstreamInjected = 0;
    this.upstreamDropped = 0;
    this.upstreamSent = 0;
    this.upstreamAcked = 0;
    this.upstreamDuplicatesAcked = 0;
    this.receiptsSent = 0;
    this.receiptsAcked = 0;
    this.flowControlViolations = 0;
    this.#seen.clear();
    this.#lastSender = undefined;
    this.#lastSeen = undefined;
    this.#byTarget.clear();
  }

  /** How many deliveries a target received (0 when deliveries are not kept). */
  deliveryCount(target: string): number {
    return this.#byTarget.get(target)?.length ?? 0;
  }

  /**
   * Records a delivery; returns true when it was a duplicate of an earlier one. `dedupeKey` (default
   * `messageId`) is what makes it one: a device-group message is one delivery per member.
   */
  deliver(senderId: string, target: string, messageId: string, data: object | undefined, dedupeKey: string = messageId): boolean {
    this.downstreamDelivered++;
    const duplicate = !this.#seenBy(senderId).add(dedupeKey);
    if (!duplicate) this.downstreamUnique++;
    if (this.#keepDeliveries) {
      let list = this.#byTarget.get(target);
      if (!list) this.#byTarget.set(target, (list = []));
      list.push(data === undefined ? { message_id: messageId } : { message_id: messageId, data });
    }
    return duplicate;
  }

  /** Whether this sender's downstream message `messageId` was delivered before. */
  wasDelivered(senderId: string, messageId: string): boolean {
    return this.#seen.get(senderId)?.has(messageId) ?? false;
  }

  #seenBy(senderId: string): IdSet {
    if (senderId === this.#lastSender) return this.#lastSeen as IdSet;
    let seen = this.#seen.get(senderId);
    if (!seen) this.#seen.set(senderId, (seen = new IdSet()));
    this.#lastSender = senderId;
    this.#lastSeen = seen;
    return seen;
  }

  /** Counts one NACK. */
  nack(code: string): void {
    this.nacked[code] = (this.nacked[code] ?? 0) + 1;
  }

  /** What a target received, in order (a copy of the list). */
  deliveredTo(target: string): Delivery[] {
    return [...(this.#byTarget.get(target) ?? [])];
  }

  /** A snapshot of the totals. */
  totals(upstreamUnacked: number): LedgerTotals {
    return {
      downstreamDelivered: this.downstreamDelivered,
      downstreamUnique: this.downstreamUnique,
      downstreamDuplicates: this.downstreamDelivered - this.downstreamUnique,
      nacked: { ...this.nacked },
      stanzaErrors: this.stanzaErrors,
      upstreamInjected: this.upstreamInjected,
      upstreamDropped: this.upstreamDropped,
      upstreamSent: this.upstreamSent,
      upstreamAcked: this.upstreamAcked,
      upstreamUnacked,
      upstreamDuplicatesAcked: this.upstreamDuplicatesAcked,
      receiptsSent: this.receiptsSent,
      receiptsAcked: this.receiptsAcked,
      flowControlViolations: this.flowControlViolations,
    };
  }
}
