/** Stable error codes of the emulator. */
export type EmulatorErrorCode =
  /** An option is out of range or inconsistent (`port`, `senders`, a fault rate…). */
  | 'EMU_ERR_CONFIG'
  /** `start()` could not listen (address in use, permission). */
  | 'EMU_ERR_LISTEN'
  /** The call needs a started emulator (or one not yet stopped). */
  | 'EMU_ERR_STATE'
  /** `injectUpstream` named a sender the emulator does not serve. */
  | 'EMU_ERR_UNKNOWN_SENDER'
  /** `injectUpstream`: `maxQueuedUpstream` messages already wait for a connection of that sender. */
  | 'EMU_ERR_UPSTREAM_FULL'
  /** The admin API could not start (address in use) or was configured unsafely (a non-loopback host without a token). */
  | 'EMU_ERR_ADMIN';

/** Base class of every error this package throws. Messages never contain an API key. */
export class EmulatorError extends Error {
  override name = 'EmulatorError';
  /** Stable machine-readable code, e.g. `EMU_ERR_CONFIG`. */
  readonly code: EmulatorErrorCode;
  /** The option or field at fault, when there is one (`cutProbability`, `senderId`…). */
  readonly field: string | undefined;

  constructor(code: EmulatorErrorCode, message: string, options?: { cause?: unknown; field?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.field = options?.field;
  }
}
