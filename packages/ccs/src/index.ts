/**
 * `@ccs-xmpp/ccs`: the CCS (GCM/FCM XMPP) client core.
 * @packageDocumentation
 */
export {
  CcsClient, type CcsClientOptions, type CcsTlsOptions, type SendOptions, type CloseOptions, type CcsStats,
  type UpstreamHandler, type ConnectionEvent, type ReconnectEvent,
} from './client.js';
export type { SendResult } from './outbound.js';
export {
  CcsError, HandshakeError, NackError, TimeoutError, AbortError, ClosedError, QueueFullError, DuplicateIdError,
  type CcsErrorCode, type HandshakeStep,
} from './errors.js';
export { MessageIdGenerator } from './message-id.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export { RingBuffer } from './ring-buffer.js';
export { DedupWindow } from './dedup.js';
export { CCS_DOMAIN } from './connection.js';
// Re-exported so that users catch and read these without importing the codec themselves.
export {
  ValidationError, type DownstreamMessage, type UpstreamMessage, type ReceiptMessage, type NackCode, type RetryClass,
  type DeviceGroupResult,
} from '@ccs-xmpp/stanza';
export { runCli, type CliIo, EXIT_OK, EXIT_FAILED, EXIT_USAGE } from './commands.js';
