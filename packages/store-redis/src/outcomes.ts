import type { Redis } from 'ioredis';
import { storeError } from './errors.js';

/** One entry of the outcome stream (`ccs:{S}:outcomes`). */
export interface Outcome {
  /** The stream entry id (`<ms>-<n>`), to read on from with `afterId`. */
  streamId: string;
  /** The message's `message_id`. */
  id: string;
  /** `ack`, `nack` or `failed`. */
  status: string;
  /** NACK or error code (`''` for an ACK). */
  code: string;
  /** Re-sends before the outcome. */
  retries: number;
  /** True when the message was adopted from a dead instance. */
  adopted: boolean;
  /** The instance that settled it. */
  instance: string;
}

/**
 * Reads up to `count` outcomes after `afterId` (exclusive; `'0'` from the start), oldest first, with
 * `XRANGE`. Applications that follow the stream live use `XREAD BLOCK` on the same key.
 */
export async function readOutcomes(redis: Redis, key: string, afterId: string, count: number): Promise<Outcome[]> {
  let entries: Array<[string, string[]]>;
  try {
    entries = await redis.xrange(key, afterId === '0' ? '-' : `(${afterId}`, '+', 'COUNT', count);
  } catch (err) {
    throw storeError('read', err);
  }
  return entries.map(([streamId, fields]) => {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i] as string] = fields[i + 1] as string;
    return {
      streamId,
      id: f['id'] ?? '',
      status: f['status'] ?? '',
      code: f['code'] ?? '',
      retries: Number(f['retries'] ?? 0),
      adopted: f['adopted'] === '1',
      instance: f['instance'] ?? '',
    };
  });
}
