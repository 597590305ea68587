/**
 * `@ccs-xmpp/ccs`: the CCS (GCM/FCM XMPP) client core.
 * @packageDocumentation
 */
export { CcsClient, type CcsClientEvents, type ConnectOptions, type WaitOptions, type SendOptions, type DispatchOptions, type SendResultWithReceipt, type CloseOptions, type SettledEvent } from './client.js';
export type { CcsClientOptions, CcsTlsOptions, ReconnectStrategy, UpstreamHandler } from './options.js';
export type { ConnectionEvent, ReconnectEvent } from './connection-pool.js';
export type { CcsStats, ConnectionGauges } from './stats.js';
export { LATENCY_BOUNDS_MS, type LatencySnapshot } from './latency.js';
export { renderPrometheus } from './metrics.js';
export { WIRE_CHANNEL, wireChannel, type WireTraceMessage } from './wire-trace.js';
export {
  ccsChannels, channelNames, type TypedChannel, type ConnectingMessage, type OnlineMessage, type DrainingMessage, type ClosedMessage,
  type StreamErrorMessage, type SendEnqueuedMessage, type SendWrittenMessage, type SendAckedMessage, type SendNackedMessage,
  type SendRetriedMessage, type SendResentMessage, type SendFailedMessage, type UpstreamReceivedMessage, type UpstreamDuplicateMessage,
  type UpstreamHandledMessage, type UpstreamAckedMessage, type ReceiptTraceMessage, type ReceiptFailedMessage,
} from './diagnostics.js';
export type { SendResult, SendCallback, OutgoingMessage } from './outbound.js';
export {
  CcsError, HandshakeError, NackError, TimeoutError, AbortError, ClosedError, ReconnectStoppedError, QueueFullError, DuplicateIdError, InvalidMessageError, StoreError, ReceiptError,
  type CcsErrorCode, type HandshakeStep,
} from './errors.js';
export { CCS_DOMAIN } from './connection.js';
// The store seam: implement these to keep the outbox and the de-duplication window elsewhere.
export {
  recordFields, type OutboxRecord, type RecordState, type OutboxStore, type StoreBundle, type OutboxStoreHost, type UpstreamDedupStore, type DedupClaim,
} from './store.js';
export { MemoryOutboxStore, MemoryDedupStore } from './memory-store.js';
export { realClock, type Clock, type ClockTimer } from './clock.js';
// Re-exported so that users catch and read these without importing the codec themselves.
export {
  ValidationError, type DownstreamMessage, type UpstreamMessage, type ReceiptMessage, type NackCode, type RetryClass,
  type DeviceGroupResult,
} from '@ccs-xmpp/stanza';
