import { EmulatorError } from './errors.js';

/** The longest a Node timer waits (2^31 - 1 ms, about 24.8 days): past it a delay fires after 1 ms instead. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Fault injection, globally (`CcsEmulator` option `faults`, `setFaults(f)`) or per connection
 * (`setFaults(f, { connectionId })`, which overrides the global value field by field).
 * Probabilities are decided by a hash of the emulator's `seed` and the message (`SeededDecisions`),
 * never by timing or by the connection a message took, so a seed reproduces a run.
 */
export interface Faults {
  /** Cut the connection (socket destroyed, no stream close) right after the Nth `<message>` it received, counted from when the fault was set. */
  cutAfterStanzas?: number;
  /** Probability, per `<message>` received, of cutting the connection right after handling it. */
  cutProbability?: number;
  /** Hold each ACK (and NACK) of a downstream message this long before writing it. */
  ackDelayMs?: number;
  /** Fraction of downstream messages answered with a `SERVICE_UNAVAILABLE` NACK. */
  serviceUnavailableRate?: number;
  /** Fraction of downstream messages answered with an `INTERNAL_SERVER_ERROR` NACK. */
  internalErrorRate?: number;
  /** Stop reading from the connection for this long, once, as soon as the fault applies (after bind for new connections). */
  stallMs?: number;
  /** Write everything in tiny TLS records: `true` for 7-byte records, or a record size in bytes. */
  tinyWrites?: boolean | number;
}

const KEYS = ['cutAfterStanzas', 'cutProbability', 'ackDelayMs', 'serviceUnavailableRate', 'internalErrorRate', 'stallMs', 'tinyWrites'] as const;

/** Checks a `Faults` object; throws `EMU_ERR_CONFIG` naming the bad field. Returns a clean copy. */
export function checkFaults(f: Faults | undefined): Faults {
  const out: Faults = {};
  if (f === undefined) return out;
  for (const key of Object.keys(f)) {
    if (!(KEYS as readonly string[]).includes(key)) throw new EmulatorError('EMU_ERR_CONFIG', `unknown fault "${key}"`, { field: key });
  }
  const nonNegInt = (k: 'cutAfterStanzas' | 'ackDelayMs' | 'stallMs'): void => {
    const v = f[k];
    if (v === undefined) return;
    if (!Number.isInteger(v) || v < 0) throw new EmulatorError('EMU_ERR_CONFIG', `fault ${k} must be a non-negative integer`, { field: k });
    // A delay past Node's timer limit fires after 1 ms instead.
    if (k !== 'cutAfterStanzas' && v > MAX_TIMER_MS) throw new EmulatorError('EMU_ERR_CONFIG', `fault ${k} must be at most ${MAX_TIMER_MS} ms`, { field: k });
    out[k] = v;
  };
  const rate = (k: 'cutProbability' | 'serviceUnavailableRate' | 'internalErrorRate'): void => {
    const v = f[k];
    if (v === undefined) return;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new EmulatorError('EMU_ERR_CONFIG', `fault ${k} must be a number in [0, 1]`, { field: k });
    out[k] = v;
  };
  nonNegInt('cutAfterStanzas');
  nonNegInt('ackDelayMs');
  nonNegInt('stallMs');
  rate('cutProbability');
  rate('serviceUnavailableRate');
  rate('internalErrorRate');
  if (f.tinyWrites !== undefined) {
    const t = f.tinyWrites;
    if (typeof t !== 'boolean' && !(Number.isInteger(t) && t >= 1)) {
      throw new EmulatorError('EMU_ERR_CONFIG', 'fault tinyWrites must be a boolean or a positive integer', { field: 'tinyWrites' });
    }
    out.tinyWrites = t;
  }
  return out;
}

/** Record size for `tinyWrites`, or 0 when off. */
export function tinyRecordSize(f: Faults): number {
  const t = f.tinyWrites;
  if (t === undefined || t === false) return 0;
  return t === true ? 7 : t;
}
