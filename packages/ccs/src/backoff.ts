/** Exponential backoff settings. */
export interface BackoffOptions {
  /** Delay of the first retry, before jitter. */
  baseMs: number;
  /** Upper bound of any delay. */
  maxMs: number;
  /** Fraction of the delay that is randomised, 0…1. Default 0.5 ("equal jitter" at 0.5). */
  jitter?: number;
}

/**
 * The delay before retry number `attempt` (0 for the first): `min(maxMs, baseMs·2^attempt)`, of
 * which a `jitter` fraction is replaced by `unit` (a draw in [0, 1)) times itself, so that many
 * clients that failed together do not retry together. Always within `[(1 − jitter)·d, d]` where
 * `d` is the capped delay.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, unit: number): number {
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  // 2^attempt overflows to Infinity long after min() has capped it; clamp the exponent anyway.
  const exp = Math.min(Math.max(0, attempt), 52);
  const capped = Math.min(options.maxMs, options.baseMs * 2 ** exp);
  return Math.round(capped * (1 - jitter) + capped * jitter * unit);
}

/** What a jitter draw is for; part of the seeded hash, so a message id and a target never share draws. */
export const enum JitterKind {
  /** A NACKed message's retry: the key is its `message_id`, the attempt its retry count. */
  Retry = 1,
  /** A rate-limited target's probe pause: the key is the target, the attempt its pause level. */
  Probe = 2,
  /** A reconnect: the pool has one backoff counter, so the attempt alone names it (the key is `''`). */
  Reconnect = 3,
}

/** A jitter draw in [0, 1) for the `attempt`-th delay of `key`. */
export type JitterSource = (kind: JitterKind, key: string, attempt: number) => number;

/**
 * Draws from `random` in call order, whatever the message (the `random` option's meaning). A draw
 * outside [0, 1] is clamped into it, NaN (or anything not a number) taken as 0: passed on, NaN made
 * a retry due at NaN, which no time ever reaches (the message waited until its timeout, or for good),
 * and a draw of 5 a delay far past `retryMaxMs`.
 */
export function streamJitter(random: () => number): JitterSource {
  return () => {
    const u = random();
    return u >= 0 ? (u <= 1 ? u : 1) : 0;
  };
}

/**
 * Draws that depend only on `seed`, the kind, the key and the attempt — not on which retry happens
 * to be computed first — so a run with the same seed and the same NACKs pauses each message (each
 * probe, each reconnect) exactly as long. FNV-1a over the key's UTF-16 units from a seeded start,
 * then the attempt, then murmur3's finaliser so that neighbouring ids and attempts spread over the
 * whole range: integer arithmetic, no allocation, no crypto (jitter only spreads load).
 */
export function seededJitter(seed: number): JitterSource {
  const start = (seed ^ 0x811c9dc5) | 0;
  return (kind, key, attempt) => {
    let h = Math.imul(start ^ kind, 0x01000193);
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
    h = Math.imul(h ^ attempt, 0x01000193) ^ key.length;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return ((h ^ (h >>> 16)) >>> 0) / 4_294_967_296;
  };
}
