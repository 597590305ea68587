import * as dc from 'node:diagnostics_channel';
import type { NackCode } from '@ccs-xmpp/stanza';

/**
 * Tracing through `node:diagnostics_channel`, the way undici does it: the client publishes what
 * happens to connections, downstream messages and upstream messages on named channels, and anyone
 * (a logger, an OpenTelemetry bridge, a test) subscribes with `diagnostics_channel.subscribe(name, fn)`
 * without the client knowing. Channels are process-wide: a message carries the `connectionId` /
 * `messageId` that tell clients apart.
 *
 * Cost when nobody subscribes: every publishing site checks `channel.hasSubscribers` (a field
 * read) before it builds a message object, so the hot path allocates nothing for tracing (measured
 * in bench/ANALYSIS.md, "Tracing").
 */

/** `ccs:connection:connecting`: a connection attempt starts. */
export interface ConnectingMessage { connectionId: string; host: string; port: number }
/** `ccs:connection:online`: the handshake completed. */
export interface OnlineMessage { connectionId: string }
/** `ccs:connection:draining`: CCS sent `CONNECTION_DRAINING` for this connection. */
export interface DrainingMessage { connectionId: string }
/**
 * `ccs:connection:closed`: a connection ended. `reason`: `failed` (the handshake failed; `error` is
 * the `HandshakeError`), `drained` (CCS closed it after draining it), `closed` (we closed it),
 * `lost` (anything else; `error` says why).
 */
export interface ClosedMessage { connectionId: string; reason: 'failed' | 'drained' | 'closed' | 'lost'; error: Error | undefined; owed: number }
/** `ccs:stream:error`: a connection closed on an error, or the server sent something unusable (not fatal). */
export interface StreamErrorMessage { connectionId: string; error: Error; fatal: boolean }

/** `ccs:send:enqueued`: `send()` accepted a message (it may be written at once: see `written`). */
export interface SendEnqueuedMessage { messageId: string; to: string }
/**
 * `ccs:send:written`: a message was written to a connection. `attempt` counts the writes of this
 * message (1 the first time; more after a retry or a resend).
 */
export interface SendWrittenMessage { messageId: string; connectionId: string | undefined; attempt: number }
/** `ccs:send:acked`: CCS ACKed the message. `latencyMs`: from its last write to the ACK. */
export interface SendAckedMessage { messageId: string; latencyMs: number; retries: number; registrationId: string | undefined }
/**
 * `ccs:send:nacked`: CCS NACKed the message (or answered with a stanza error). `latencyMs`: from its
 * last write. `outcome`: what the client does next (`requeue`, `wait`, `throttle`, `fail`;
 * `ignored` when its promise had already settled).
 */
export interface SendNackedMessage { messageId: string; code: NackCode; latencyMs: number; stanzaError: boolean; outcome: 'requeue' | 'wait' | 'throttle' | 'fail' | 'ignored' }
/** `ccs:send:retried`: a NACKed message will be written again, after `delayMs` (0: at once). */
export interface SendRetriedMessage { messageId: string; code: NackCode; retries: number; delayMs: number }
/** `ccs:send:resent`: a message goes out again because its connection closed or drained before answering. */
export interface SendResentMessage { messageId: string }
/** `ccs:send:failed`: the message's promise rejected (a NACK, a timeout, an abort, close). */
export interface SendFailedMessage { messageId: string; error: Error }

/** `ccs:upstream:received`: an upstream message arrived (duplicates included). */
export interface UpstreamReceivedMessage { connectionId: string; from: string; messageId: string; category: string | undefined }
/** `ccs:upstream:duplicate`: a resent upstream message (or receipt) was dropped by the de-duplication window. */
export interface UpstreamDuplicateMessage { connectionId: string; from: string; messageId: string }
/** `ccs:upstream:handled`: the handler (or iterator consumer) finished with the message; `error` when it failed (no ACK then). */
export interface UpstreamHandledMessage { from: string; messageId: string; error: unknown }
/** `ccs:upstream:acked`: the ACK of an upstream message or receipt was written to a connection. */
export interface UpstreamAckedMessage { connectionId: string; to: string; messageId: string }
/**
 * `ccs:receipt`: a delivery receipt arrived (`duplicate`: dropped by the de-duplication window;
 * `awaited`: it settled the promise of a `send(…, { receipt: true })`).
 */
export interface ReceiptTraceMessage { connectionId: string; messageId: string; originalMessageId: string | undefined; status: string | undefined; duplicate: boolean; awaited: boolean }
/**
 * `ccs:receipt:failed`: the receipt promise of a `send(…, { receipt: true })` rejected: `error` is a
 * `ReceiptError` (`CCS_ERR_RECEIPT_TIMEOUT`, `CCS_ERR_RECEIPT_OVERFLOW`) or a `ClosedError`.
 */
export interface ReceiptFailedMessage { messageId: string; error: Error }

/** The channels, by name. Subscribe with `diagnostics_channel.subscribe(name, fn)` or use {@link ccsChannels}. */
export const channelNames = {
  connecting: 'ccs:connection:connecting',
  online: 'ccs:connection:online',
  draining: 'ccs:connection:draining',
  closed: 'ccs:connection:closed',
  streamError: 'ccs:stream:error',
  enqueued: 'ccs:send:enqueued',
  written: 'ccs:send:written',
  acked: 'ccs:send:acked',
  nacked: 'ccs:send:nacked',
  retried: 'ccs:send:retried',
  resent: 'ccs:send:resent',
  failed: 'ccs:send:failed',
  upstreamReceived: 'ccs:upstream:received',
  upstreamDuplicate: 'ccs:upstream:duplicate',
  upstreamHandled: 'ccs:upstream:handled',
  upstreamAcked: 'ccs:upstream:acked',
  receipt: 'ccs:receipt',
  receiptFailed: 'ccs:receipt:failed',
} as const;

/** A channel whose messages have type `T` (a typed view of `diagnostics_channel.Channel`). */
export interface TypedChannel<T> {
  readonly name: string;
  readonly hasSubscribers: boolean;
  publish(message: T): void;
  subscribe(fn: (message: T, name: string | symbol) => void): void;
  unsubscribe(fn: (message: T, name: string | symbol) => void): boolean;
}

const ch = <T>(name: string): TypedChannel<T> => dc.channel(name) as unknown as TypedChannel<T>;

/** The client's channels (the same objects `diagnostics_channel.channel(name)` returns). */
export const ccsChannels = {
  connecting: ch<ConnectingMessage>(channelNames.connecting),
  online: ch<OnlineMessage>(channelNames.online),
  draining: ch<DrainingMessage>(channelNames.draining),
  closed: ch<ClosedMessage>(channelNames.closed),
  streamError: ch<StreamErrorMessage>(channelNames.streamError),
  enqueued: ch<SendEnqueuedMessage>(channelNames.enqueued),
  written: ch<SendWrittenMessage>(channelNames.written),
  acked: ch<SendAckedMessage>(channelNames.acked),
  nacked: ch<SendNackedMessage>(channelNames.nacked),
  retried: ch<SendRetriedMessage>(channelNames.retried),
  resent: ch<SendResentMessage>(channelNames.resent),
  failed: ch<SendFailedMessage>(channelNames.failed),
  upstreamReceived: ch<UpstreamReceivedMessage>(channelNames.upstreamReceived),
  upstreamDuplicate: ch<UpstreamDuplicateMessage>(channelNames.upstreamDuplicate),
  upstreamHandled: ch<UpstreamHandledMessage>(channelNames.upstreamHandled),
  upstreamAcked: ch<UpstreamAckedMessage>(channelNames.upstreamAcked),
  receipt: ch<ReceiptTraceMessage>(channelNames.receipt),
  receiptFailed: ch<ReceiptFailedMessage>(channelNames.receiptFailed),
} as const;
