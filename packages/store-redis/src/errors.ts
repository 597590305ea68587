import { StoreError as CcsStoreError } from '@ccs-xmpp/ccs';

/** What the store was doing when Redis failed it. */
export type StoreOperation =
  | 'connect' | 'append' | 'update' | 'remove' | 'claim' | 'complete' | 'release' | 'heartbeat' | 'adopt' | 'read';

/**
 * Redis could not record or read something the client needed: the connection is down, a command
 * failed, or a script answered something unexpected. `code` is always `CCS_ERR_STORE` (it is the
 * client's `StoreError`). A send refused with it was not accepted; an upstream message whose
 * completion failed with it is not ACKed, so CCS delivers it again.
 *
 * The message names the operation and Redis's own error text; it never contains a message body,
 * the Redis password or the connection URL's credentials.
 */
export class StoreError extends CcsStoreError {
  override name = 'StoreError';
  /** The store operation that failed. */
  declare readonly operation: StoreOperation;

  constructor(operation: StoreOperation, message: string, options?: { cause?: unknown; unavailable?: boolean }) {
    super(operation, `store ${operation} failed: ${message}`, options);
  }
}

/** Redis's connection-level failures, as ioredis words them (offline queue off, retries off). */
const UNAVAILABLE = /Stream isn't writeable|Connection is closed|MaxRetriesPerRequest|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|LOADING|not connected/i;

/**
 * ioredis hangs the failed command on its errors (`command: { name, args }`): AUTH's args are the
 * password, a script's are message bodies — and the error becomes the StoreError's `cause`, which
 * `console.error(err)` and `util.inspect` print. Only the command's name is kept (the same for the
 * errors a pipeline's abort collects in `previousErrors`).
 */
function withoutArgs(err: unknown, depth = 0): void {
  if (typeof err !== 'object' || err === null || depth > 2) return;
  const e = err as { command?: unknown; previousErrors?: unknown };
  if (typeof e.command === 'object' && e.command !== null) {
    const name = (e.command as { name?: unknown }).name;
    e.command = { name: typeof name === 'string' ? name : '' };
  }
  if (Array.isArray(e.previousErrors)) for (const p of e.previousErrors) withoutArgs(p, depth + 1);
}

/** Wraps whatever ioredis rejected with into a {@link StoreError} (idempotent). */
export function storeError(operation: StoreOperation, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  withoutArgs(err);
  const text = err instanceof Error ? err.message : String(err);
  // Redis error texts can quote arguments back ("ERR … for key '…'"): keep the first line and cap it.
  const first = (text.split('\n')[0] ?? '').slice(0, 200);
  return new StoreError(operation, first, { cause: err, unavailable: UNAVAILABLE.test(text) });
}
