/**
 * `@ccs-xmpp/ccs/internal`: the building blocks behind `CcsClient`, for this repository's tests,
 * the CLI and store implementations' test suites. Not a stable API.
 * @packageDocumentation
 */
export { Outbox, type OutboxConnection, type OutboxHost, type OutboxOptions, type SubmitOptions } from './outbox.js';
export { Outbound } from './outbound.js';
export { decide, type RetryDecision, type RetryOptions } from './retry-policy.js';
export { TargetThrottle, Gate } from './target-throttle.js';
export { Counters, type CcsGauges } from './stats.js';
export { KeepAlive } from './clock.js';
export { resolveOptions, type ResolvedOptions } from './options.js';
export { TimerHeap } from './timer-heap.js';
export { ReceiptWaiters, ReceiptWaiter, type ReceiptWaitersOptions } from './receipt-waiters.js';
export { MessageIdGenerator, processPrefix } from './message-id.js';
export { backoffDelay, seededJitter, streamJitter, JitterKind, type BackoffOptions, type JitterSource } from './backoff.js';
export { RingBuffer } from './ring-buffer.js';
export { DedupWindow } from './dedup.js';
export { runCli, type CliIo, EXIT_OK, EXIT_FAILED, EXIT_USAGE } from './commands.js';
