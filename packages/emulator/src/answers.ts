/**
 * The CCS answers of one bound connection (PROTOCOL.md "Downstream", "Upstream", the CCS
 * document's NACK and stanza-error shapes): validation, NACKs, delivery through the registry and
 * the ledger, ACKs of upstream messages, the ACK-of-an-ACK check. It writes through a narrow
 * {@link AnswerHost} that the session implements; timing (delays, cuts) is the session's.
 */
import { splitCcsError, validateOutbound, type JsonObject } from '@ccs-xmpp/stanza';
import type { FaultInjector } from './fault-injector.js';
import type { EmulatorEvent, Hub } from './hub.js';
import { ackStanza, gcmStanza, nackStanza, stanzaErrorStanza } from './wire.js';

/** How many dry-run ids a connection remembers to recognise an "ACK of an ACK" (delivered ids are in the ledger). */
const RECENT_DRY_RUNS = 4096;

/** What the answers need of their connection. */
export interface AnswerHost {
  readonly id: number;
  /** The bound sender. */
  readonly senderId: string;
  readonly draining: boolean;
  /** Writes now. */
  write(data: string | Buffer): void;
  /** Writes an answer to a downstream message now, or holds it for `ackDelayMs`; then sends the receipt it triggers. */
  answer(stanza: string | Buffer, receiptFor: string | undefined, token: string): void;
  /** An ACK for an upstream message: true when it was in flight on this connection (and is now settled). */
  upstreamAcked(messageId: string): boolean;
  /** Counts a downstream message against the flow-control window; true when the connection was closed for it. */
  flowControl(): boolean;
  event(e: EmulatorEvent): void;
}

/** Answers CCS messages on one connection. */
export class CcsAnswers {
  readonly #hub: Hub;
  readonly #host: AnswerHost;
  readonly #faults: FaultInjector;
  /** Recently ACKed dry-run ids (ring + set), to refuse an ACK of their ACK (delivered ids are in the ledger). */
  readonly #dryRuns = new Set<string>();
  readonly #dryRunRing: Array<string | undefined> = new Array<string | undefined>(RECENT_DRY_RUNS);
  #dryRunPos = 0;

  constructor(hub: Hub, host: AnswerHost, faults: FaultInjector) {
    this.#hub = hub;
    this.#host = host;
    this.#faults = faults;
  }

  /** A `<message>`: its `type` and `id` attributes and the text of its `<gcm>` child (undefined: none). */
  message(type: string | undefined, stanzaId: string | undefined, text: string | undefined): void {
    if (type === 'error') return;
    if (text === undefined) return this.#stanzaError(stanzaId, 'InvalidJson: JSON_PARSING_ERROR : Missing Required Field: gcm', undefined);
    let payload: unknown;
    try {
      payload = JSON.parse(text);
    } catch {
      payload = undefined;
    }
    if (payload === undefined) this.#stanzaError(stanzaId, 'InvalidJson: JSON_PARSING_ERROR : Malformed JSON', text);
    else this.#onPayload(payload, text, stanzaId);
  }

  #onPayload(payload: unknown, text: string, stanzaId: string | undefined): void {
    const err = validateOutbound(payload);
    const msg = payload as JsonObject;
    if (err !== undefined) {
      if (err.stanzaError) {
        // No usable message_id: CCS answers with a 400 stanza error (CCS document §"Stanza error").
        const { reason, detail } = splitCcsError(err.ccsError);
        return this.#stanzaError(stanzaId, `InvalidJson: ${reason ?? 'JSON_PARSING_ERROR'} : ${detail}`, text);
      }
      const target = typeof msg['to'] === 'string' ? msg['to'] : undefined;
      const code = err.nackCode;
      return this.#nack(target, err.messageId as string, code, code === 'INVALID_JSON' ? err.ccsError : err.ccsError.trimEnd(), false);
    }
    const messageId = msg['message_id'] as string;
    if (msg['message_type'] === 'ack') return this.#onAck(messageId, msg['to'] as string, text, stanzaId);
    this.#onDownstream(msg, messageId);
  }

  #onDownstream(msg: JsonObject, messageId: string): void {
    const host = this.#host;
    const to = msg['to'] as string | undefined;
    if (host.flowControl()) return;
    if (host.draining) return this.#nack(to, messageId, 'CONNECTION_DRAINING', 'This connection is being drained.', true);
    const hub = this.#hub;
    const senderId = host.senderId;
    const refused = this.#faults.nack(senderId, messageId);
    if (refused !== undefined) return this.#nack(to, messageId, refused.code, refused.description, true);
    if (hub.legacyNacks && to !== undefined) {
      // The CCS document's sender-level codes, on demand by token (README "Token conventions").
      if (to.startsWith('authfailed-')) return this.#nack(to, messageId, 'AUTHENTICATION_FAILED', 'There was an error authenticating the sender account.', true);
      if (to.startsWith('quota-')) return this.#nack(to, messageId, 'QUOTA_EXCEEDED', 'The sender quota is exceeded.', true);
    }
    const members = hub.devices.group(to);
    if (members !== undefined) return this.#onGroupMessage(msg, messageId, to as string, members);
    const verdict = hub.registry.resolve(senderId, to, msg['condition'] as string | undefined, Date.now());
    if (!verdict.ok) return this.#nack(to, messageId, verdict.code, verdict.description, true);
    let receiptFor: string | undefined;
    // A delivered id is in the ledger, which answers an ACK of it (ACK_OF_ACK); a dry run's is not.
    if (msg['dry_run'] === true) this.#rememberDryRun(messageId);
    else if (to !== undefined && !to.startsWith('/topics/')) {
      // A device: delivered now, held while it is offline (then its receipt comes on delivery),
      // expired at once (TTL 0), or refused because it is unregistered.
      const r = hub.devices.accept(senderId, verdict.deliverTo, msg, messageId);
      if (r.fate === 'unregistered') return this.#nack(to, messageId, 'DEVICE_UNREGISTERED', 'The device is not registered.', true);
      if (r.fate === 'delivered' && msg['delivery_receipt_requested'] === true) receiptFor = messageId;
      if (hub.emitting) host.event({ type: 'downstream', connectionId: host.id, messageId, to: verdict.deliverTo, duplicate: r.duplicate, fate: r.fate });
    } else {
      const data = msg['data'] as object | undefined;
      const duplicate = hub.ledger.deliver(senderId, verdict.deliverTo, messageId, data);
      if (msg['delivery_receipt_requested'] === true) receiptFor = messageId;
      if (hub.emitting) host.event({ type: 'downstream', connectionId: host.id, messageId, to: verdict.deliverTo, duplicate });
    }
    host.answer(ackStanza(to, messageId, verdict.registrationId), receiptFor, verdict.deliverTo);
    if (hub.emitting) host.event({ type: 'ack', connectionId: host.id, messageId });
  }

  /**
   * A message to a device group (a notification key): each member as its own delivery, one ACK
   * counting them (`success`, `failure`, `failed_registration_ids` on partial failure).
   */
  #onGroupMessage(msg: JsonObject, messageId: string, key: string, members: readonly string[]): void {
    const hub = this.#hub;
    const host = this.#host;
    const failed: string[] = [];
    let success = 0;
    for (const token of members) {
      const verdict = hub.registry.resolve(host.senderId, token, undefined, Date.now());
      const ok = verdict.ok && (msg['dry_run'] === true || hub.devices.accept(host.senderId, verdict.deliverTo, msg, messageId, true).fate !== 'unregistered');
      if (ok) success++;
      else failed.push(token);
    }
    const ack: JsonObject = { from: key, message_id: messageId, message_type: 'ack', success, failure: failed.length };
    if (failed.length > 0) ack['failed_registration_ids'] = failed;
    host.answer(gcmStanza(JSON.stringify(ack)), undefined, key);
    if (hub.emitting) host.event({ type: 'ack', connectionId: host.id, messageId, group: key, success, failure: failed.length });
  }

  #onAck(messageId: string, to: string, text: string, stanzaId: string | undefined): void {
    const hub = this.#hub;
    const host = this.#host;
    if (host.upstreamAcked(messageId)) return;
    const senderId = host.senderId;
    if (hub.wasAcked(senderId, messageId)) {
      hub.ledger.upstreamDuplicatesAcked++;
      if (hub.emitting) host.event({ type: 'upstream-ack', connectionId: host.id, messageId, duplicate: true });
      return;
    }
    if (hub.ledger.wasDelivered(senderId, messageId) || this.#dryRuns.has(messageId) || hub.devices.model.isHeld(senderId, messageId)) {
      // The app server ACKed our ACK of its own downstream message (PROTOCOL.md: "an ACK for an ACK earns a 406").
      return this.#stanzaError(stanzaId ?? messageId, `BadAck: ACK_OF_ACK : message_id ${messageId} is a downstream message; only upstream messages and receipts are ACKed`, text, 'not-acceptable');
    }
    this.#nack(to, messageId, 'BAD_ACK', `No upstream message with message_id ${JSON.stringify(messageId)} is pending on this connection.`, false);
  }

  #rememberDryRun(messageId: string): void {
    const old = this.#dryRunRing[this.#dryRunPos];
    if (old !== undefined) this.#dryRuns.delete(old);
    this.#dryRunRing[this.#dryRunPos] = messageId;
    this.#dryRuns.add(messageId);
    this.#dryRunPos = (this.#dryRunPos + 1) % RECENT_DRY_RUNS;
  }

  /** NACKs go through `answer` (and so `ackDelayMs`) when they answer a downstream message. */
  #nack(from: string | undefined, messageId: string, code: string, description: string, downstream: boolean): void {
    const hub = this.#hub;
    hub.ledger.nack(code);
    // The CCS document's shape: the composite text in `error` itself, no `error_description`.
    const legacy = hub.legacyNacks && code === 'INVALID_JSON' && description.startsWith('InvalidJson');
    const stanza = legacy ? nackStanza(from, messageId, description, undefined) : nackStanza(from, messageId, code, description);
    if (downstream) this.#host.answer(stanza, undefined, '');
    else this.#host.write(stanza);
    if (hub.emitting) this.#host.event({ type: 'nack', connectionId: this.#host.id, messageId, code });
  }

  #stanzaError(id: string | undefined, text: string, json: string | undefined, condition: 'bad-request' | 'not-acceptable' = 'bad-request'): void {
    this.#hub.ledger.stanzaErrors++;
    this.#host.write(stanzaErrorStanza(id, condition, 'modify', text, json));
    if (this.#hub.emitting) this.#host.event({ type: 'stanza-error', connectionId: this.#host.id, id, condition, text });
  }
}
