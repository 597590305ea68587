/**
 * `jitterSeed`: a retry's pause depends on the seed, the message and its retry count only, so a
 * seeded rerun pauses each message exactly as long whatever order its NACKs come in.
 */
import * as dc from 'node:diagnostics_channel';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, channelNames } from '../src/index.js';
import { JitterKind, decide, seededJitter, streamJitter, type RetryOptions } from '../src/internal.js';
import type { OutboxRecord } from '../src/store.js';
import { clientOptions, quiet, startScriptedServer } from './helpers/scripted-server.js';

const IDS = ['sj-1', 'sj-2', 'sj-3', 'sj-4'];

/** One run: sends IDS, NACKs their first copies (SERVICE_UNAVAILABLE) in `order`, returns each one's retry pause. */
async function pauses(seed: number, order: readonly string[]): Promise<Map<string, number>> {
  const server = await startScriptedServer({ autoAck: false });
  // Long pauses: nothing is retried before the client closes, and the draws are far apart.
  const client = new CcsClient(clientOptions(server, { retryBaseMs: 10_000, retryMaxMs: 60_000, jitterSeed: seed }));
  const seen = new Map<string, number>();
  const onRetried = (m: unknown): void => {
    const r = m as { messageId: string; delayMs: number };
    if (IDS.includes(r.messageId)) seen.set(r.messageId, r.delayMs);
  };
  dc.subscribe(channelNames.retried, onRetried);
  try {
    await client.connect();
    const sends = IDS.map((id) => quiet(client.send({ to: `dev-${id}`, message_id: id })));
    await server.until(() => server.received.length === IDS.length);
    const conn = server.latest();
    for (const id of order) conn.nack(id, 'SERVICE_UNAVAILABLE');
    await server.until(() => seen.size === IDS.length);
    void sends;
  } finally {
    dc.unsubscribe(channelNames.retried, onRetried);
    await client.close({ timeoutMs: 200 });
    await server.stop();
  }
  return seen;
}

test('jitterSeed: two runs with one seed pause each message alike whatever order its NACKs come in; another seed pauses differently', async () => {
  const first = await pauses(7, IDS);
  const reversed = await pauses(7, [...IDS].reverse());
  const shuffled = await pauses(7, ['sj-3', 'sj-1', 'sj-4', 'sj-2']);
  for (const id of IDS) {
    const d = first.get(id);
    assert.ok(d !== undefined && d >= 5000 && d <= 10_000, `${id}: a first retry's pause is within [base/2, base] (${String(d)})`);
    assert.is(reversed.get(id), d, `${id}: same seed, NACKs in reverse order`);
    assert.is(shuffled.get(id), d, `${id}: same seed, NACKs shuffled`);
  }
  assert.is(new Set(first.values()).size, IDS.length, 'each message draws its own pause');
  const other = await pauses(8, IDS);
  assert.ok(IDS.some((id) => other.get(id) !== first.get(id)), 'another seed, other pauses');
});

/** A record as the retry policy reads it. */
function rec(id: string, retries: number): OutboxRecord {
  return { id, seq: 0, msg: { to: 't' }, target: 't', retries, resends: 0, written: false, state: 'queued', notBefore: 0 } as unknown as OutboxRecord;
}

test('seeded retry pauses depend on the seed, the message and the retry count only; random keeps its call-order meaning', () => {
  const nack = { retry: 'backoff', code: 'SERVICE_UNAVAILABLE' } as Parameters<typeof decide>[0];
  const opts = (jitter: RetryOptions['jitter']): RetryOptions => ({ maxRetries: 8, retryBaseMs: 1000, retryMaxMs: 1_000_000, jitter });
  const at = (o: RetryOptions, id: string, n: number): number => {
    const d = decide(nack, rec(id, n), o, 0);
    return d.kind === 'wait' ? d.at : -1;
  };
  const keys: Array<[string, number]> = [];
  for (let i = 0; i < 50; i++) for (let n = 0; n < 4; n++) keys.push([`m-${i}`, n]);
  const a = opts(seededJitter(42));
  const forward = keys.map(([id, n]) => at(a, id, n));
  const backward = [...keys].reverse().map(([id, n]) => at(opts(seededJitter(42)), id, n)).reverse();
  assert.equal(backward, forward, 'the same pause per (message, retry), in any order and from a fresh source');
  for (const [i, [, n]] of keys.entries()) {
    const d = 1000 * 2 ** n;
    assert.ok(forward[i]! >= d / 2 && forward[i]! <= d, `within [d/2, d] for retry ${n}`);
  }
  // Spread: the draws of 200 (message, retry) pairs are not bunched (a weak hash would be).
  const units = keys.map(([id, n]) => seededJitter(42)(JitterKind.Retry, id, n));
  assert.is(new Set(units).size, units.length, 'every (message, retry) pair draws its own value');
  const buckets = [0, 0, 0, 0];
  for (const u of units) buckets[Math.floor(u * 4)]!++;
  assert.ok(buckets.every((b) => b >= 25), `spread over [0, 1): ${buckets.join(',')}`);
  const other = keys.map(([id, n]) => at(opts(seededJitter(43)), id, n));
  assert.ok(other.filter((x, i) => x !== forward[i]).length > keys.length / 2, 'another seed draws otherwise');
  // Kinds are apart: a message id and a target with the same text do not share draws.
  const j = seededJitter(42);
  assert.is.not(j(JitterKind.Retry, 'x', 0), j(JitterKind.Probe, 'x', 0));
  assert.is(j(JitterKind.Reconnect, '', 3), seededJitter(42)(JitterKind.Reconnect, '', 3), 'a reconnect\'s pause: the seed and the attempt');
  assert.is.not(j(JitterKind.Reconnect, '', 3), seededJitter(43)(JitterKind.Reconnect, '', 3));
  // random: drawn in call order, whatever the message.
  const draws = [0.1, 0.9];
  const r = opts(streamJitter(() => draws.shift() ?? 0));
  assert.equal([at(r, 'm-1', 0), at(r, 'm-0', 0)], [550, 950]);
});

test('jitterSeed is an integer from 0 to 2^32-1, and not together with random', () => {
  const base = { senderId: 's', apiKey: 'k' };
  for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) assert.throws(() => new CcsClient({ ...base, jitterSeed: bad }), RangeError);
  assert.throws(() => new CcsClient({ ...base, jitterSeed: '1' as unknown as number }), TypeError);
  assert.throws(() => new CcsClient({ ...base, jitterSeed: 1, random: Math.random }), /exclude each other/);
  new CcsClient({ ...base, jitterSeed: 2 ** 32 - 1 }).destroy();
});


for (const [what, draw] of [['NaN', Number.NaN], ['5', 5], ['-1', -1]] as const) {
  test(`a random option that draws ${what}: the retry pause is clamped within [retryBaseMs / 2, retryMaxMs] and the NACKed message is retried and ACKed`, async () => {
    let nacked = false;
    const server = await startScriptedServer({
      autoAck: false,
      onDownstream: (c, m) => {
        const id = m['message_id'] as string;
        if (nacked) c.ack(id);
        else {
          nacked = true;
          c.nack(id, 'SERVICE_UNAVAILABLE');
        }
      },
    });
    const client = new CcsClient(clientOptions(server, { random: () => draw, retryBaseMs: 40, retryMaxMs: 60, sendTimeoutMs: 5000 }));
    const delays: number[] = [];
    const onRetried = (m: unknown): void => {
      delays.push((m as { delayMs: number }).delayMs);
    };
    dc.subscribe(channelNames.retried, onRetried);
    try {
      await client.connect();
      const r = await client.send({ to: 'tok' });
      assert.is(r.retries, 1);
      assert.is(delays.length, 1);
      assert.ok(delays[0]! >= 20 && delays[0]! <= 60, `a pause of ${delays[0]} ms`);
    } finally {
      dc.unsubscribe(channelNames.retried, onRetried);
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
}

test.run();
