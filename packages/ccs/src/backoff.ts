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
 * which a `jitter` fraction is replaced by a uniform random part, so that many clients that failed
 * together do not retry together. Always within `[(1 − jitter)·d, d]` where `d` is the capped delay.
 */
export function backoffDelay(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  const jitter = Math.min(1, Math.max(0, options.jitter ?? 0.5));
  // 2^attempt overflows to Infinity long after min() has capped it; clamp the exponent anyway.
  const exp = Math.min(Math.max(0, attempt), 52);
  const capped = Math.min(options.maxMs, options.baseMs * 2 ** exp);
  return Math.round(capped * (1 - jitter) + capped * jitter * random());
}
