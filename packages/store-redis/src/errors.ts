/** What the store was doing when Redis failed it. */
export type StoreOperation =
  | 'connect' | 'append' | 'update' | 'remove' | 'claim' | 'complete' | 'release' | 'heartbeat' | 'adopt' | 'read';

/**
 * Redis could not record or read something the client needed: the connection is down, a command
 * failed, or a script answered something unexpected. `code` is always `CCS_ERR_STORE`. A send
 * refused with it was not accepted (the caller still owns the message); an upstream message whose
 * completion failed with it is not ACKed, so CCS delivers it again.
 *
 * The message names the operation and Redis's own error text; it never contains a message body,
 * the Redis password or the connection URL's credentials.
 */
export class StoreError extends Error {
  override name = 'StoreError';
  /** Stable machine-readable code. */
  readonly code = 'CCS_ERR_STORE' as const;
  /** The store operation that failed. */
  readonly operation: StoreOperation;
  /** True when the failure is the connection (down, reconnecting, lost mid-command) rather than a command error. */
  readonly unavailable: boolean;

  constructor(operation: StoreOperation, message: string, options?: { cause?: unknown; unavailable?: boolean }) {
    super(`store ${operation} failed: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.operation = operation;
    this.unavailable = options?.unavailable ?? false;
  }
}

/** Redis's connection-level failures, as ioredis words them (offline queue off, retries off). */
const UNAVAILABLE = /Stream isn't writeable|Connection is closed|MaxRetriesPerRequest|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|LOADING|not connected/i;

/** Wraps whatever ioredis rejected with into a {@link StoreError} (idempotent). */
export function storeError(operation: StoreOperation, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  const text = err instanceof Error ? err.message : String(err);
  // Redis error texts can quote arguments back ("ERR … for key '…'"): keep the first line and cap it.
  const first = (text.split('\n')[0] ?? '').slice(0, 200);
  return new StoreError(operation, first, { cause: err, unavailable: UNAVAILABLE.test(text) });
}
