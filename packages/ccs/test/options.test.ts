import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, type CcsClientOptions } from '../src/index.js';
import { realClock } from '../src/clock.js';

const base = { senderId: '1', apiKey: 'secret-key-123' };
const make = (extra: Record<string, unknown>): CcsClient => new CcsClient({ ...base, ...extra } as CcsClientOptions);

test('the constructor refuses an unknown option name with a TypeError naming it (a typo is not silently ignored)', () => {
  assert.throws(() => make({ maxPendng: 10 }), (e: unknown) => e instanceof TypeError && /maxPendng/.test(e.message));
  assert.throws(() => make({ tls: { rejectUnauthorised: false } }), (e: unknown) => e instanceof TypeError && /tls\.rejectUnauthorised/.test(e.message));
});

test('the constructor refuses a port that is not an integer from 1 to 65535, naming port', () => {
  assert.throws(() => make({ port: 'abc' }), (e: unknown) => e instanceof TypeError && /\bport\b/.test(e.message));
  for (const port of [5235.5, 0, 70_000, Number.NaN]) {
    assert.throws(() => make({ port }), (e: unknown) => e instanceof RangeError && /\bport\b/.test(e.message), String(port));
  }
  make({ port: 443 }).destroy();
});

test('the constructor refuses negative or fractional windows and counts, and wrong types, naming the option', () => {
  const cases: Array<[string, unknown, typeof TypeError | typeof RangeError]> = [
    ['maxPending', -1, RangeError], ['maxPending', 1.5, RangeError], ['maxQueued', -5, RangeError],
    ['connections', 0, RangeError], ['connections', 1001, RangeError], ['connections', 100_000, RangeError], ['maxRetries', -1, RangeError], ['dedupWindow', 0, RangeError],
    ['sendTimeoutMs', -1, RangeError], ['retryBaseMs', Number.POSITIVE_INFINITY, RangeError],
    ['handshakeTimeoutMs', 0, RangeError], ['maxPending', '10', TypeError], ['ackOnReceipt', 'yes', TypeError],
    ['session', 'sometimes', TypeError], ['onUpstream', 42, TypeError], ['host', '', TypeError],
    ['random', 0.5, TypeError], ['store', {}, TypeError], ['dedupStore', { claim: () => 'new' }, TypeError],
    ['clock', { now: () => 0 }, TypeError], ['tls', 'insecure', TypeError],
    ['receiptTimeoutMs', -1, RangeError], ['receiptTimeoutMs', Number.NaN, RangeError], ['receiptTimeoutMs', '5000', TypeError],
    ['maxReceiptWaiters', 0, RangeError], ['maxReceiptWaiters', 2.5, RangeError], ['maxReceiptWaiters', '10', TypeError],
    // Past 2^31 - 1 ms Node fires a timer after 1 ms: a 30-day timeout would be an immediate one.
    ['sendTimeoutMs', 2 ** 31, RangeError], ['handshakeTimeoutMs', 30 * 86_400_000, RangeError],
    ['drainTimeoutMs', 2 ** 31, RangeError], ['receiptTimeoutMs', 2 ** 32, RangeError],
  ];
  for (const [name, value, kind] of cases) {
    assert.throws(() => make({ [name]: value }), (e: unknown) => e instanceof kind && e.message.includes(name), `${name}: ${String(value)}`);
  }
});

test('no validation error carries the API key', () => {
  for (const extra of [{ port: 'abc' }, { bogus: 1 }, { maxPending: -1 }]) {
    try {
      make(extra);
      assert.unreachable('should have thrown');
    } catch (e) {
      assert.not.ok(String((e as Error).message).includes(base.apiKey));
    }
  }
});


test('the real clock clamps a delay past the timer limit instead of firing it at once', async () => {
  let fired = false;
  const timer = realClock.setTimer(() => { fired = true; }, 2 ** 31 + 1000);
  // An unclamped setTimeout would fire this after 1 ms; after 50 ms it has still not fired.
  await new Promise((resolve) => setTimeout(resolve, 50));
  realClock.clearTimer(timer);
  assert.is(fired, false);
});

test.run();
