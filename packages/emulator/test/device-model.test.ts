// The device model alone, with a fake clock: presence, held delivery, TTL (0 = now or never),
// collapse keys (newest per key, at most 4 keys), delay_while_idle, unregistered, and the seeded
// schedule that makes transitions a function of seed + messages, not of timing.
import * as fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DeviceModel, MAX_COLLAPSE_KEYS, type DeviceMessage, type DeviceModelOptions } from '../src/device-model.js';

function model(extra: Partial<DeviceModelOptions> = {}): { m: DeviceModel; got: Array<[string, string, number]> } {
  const got: Array<[string, string, number]> = [];
  const m = new DeviceModel({ seed: 1, sink: { delivered: (token, msg, now) => got.push([token, msg.messageId, now]) }, ...extra });
  return { m, got };
}

const msg = (id: string, o: Partial<DeviceMessage> = {}): DeviceMessage => ({
  senderId: 'S', messageId: id, data: { id }, collapseKey: undefined, delayWhileIdle: false, ttlSeconds: 2419200, receipt: false, ...o,
});

test('an online device gets a message at once', () => {
  const { m, got } = model();
  assert.is(m.accept('t', msg('a'), 5), 'delivered');
  assert.equal(got, [['t', 'a', 5]]);
  assert.equal(m.log('t'), [{ message_id: 'a', fate: 'delivered', at: 5 }]);
});

test('an offline device holds messages and gets them, in order, when it reconnects', () => {
  const { m, got } = model();
  m.set('t', 'offline', 0);
  assert.is(m.accept('t', msg('a'), 10), 'held');
  assert.is(m.accept('t', msg('b'), 20), 'held');
  assert.equal(got, []);
  assert.equal(m.heldFor('t'), ['a', 'b']);
  m.set('t', 'online', 100);
  assert.equal(got, [['t', 'a', 100], ['t', 'b', 100]]);
  assert.equal(m.log('t').map((r) => `${r.message_id}:${r.fate}@${r.at}`), ['a:held@10', 'b:held@20', 'a:delivered@100', 'b:delivered@100']);
  const t = m.totals();
  assert.equal([t.held, t.heldEver, t.deliveredLater, t.offline], [0, 2, 2, 0]);
});

test('a held message past its time_to_live expires and is never delivered', () => {
  const { m, got } = model();
  m.set('t', 'offline', 0);
  m.accept('t', msg('short', { ttlSeconds: 10 }), 1000);
  m.accept('t', msg('long', { ttlSeconds: 60 }), 1000);
  assert.is(m.nextExpiry(), 11_000);
  m.sweep(10_999);
  assert.equal(m.heldFor('t'), ['short', 'long']);
  m.sweep(11_000);
  assert.equal(m.heldFor('t'), ['long']);
  m.set('t', 'online', 20_000);
  assert.equal(got.map((g) => g[1]), ['long']);
  assert.is(m.totals().expired, 1);
  assert.ok(m.log('t').some((r) => r.message_id === 'short' && r.fate === 'expired' && r.at === 11_000));
});

test('time_to_live 0 is now or never: delivered to an online device, expired at once for an offline one', () => {
  const { m, got } = model();
  assert.is(m.accept('on', msg('a', { ttlSeconds: 0 }), 1), 'delivered');
  m.set('off', 'offline', 0);
  assert.is(m.accept('off', msg('b', { ttlSeconds: 0 }), 2), 'expired');
  m.set('off', 'online', 3);
  assert.equal(got.map((g) => g[1]), ['a']);
  assert.equal(m.heldFor('off'), []);
});

test('collapse_key keeps only the newest held message per key (and sender)', () => {
  const { m, got } = model();
  m.set('t', 'offline', 0);
  m.accept('t', msg('k1', { collapseKey: 'score' }), 1);
  m.accept('t', msg('other', { collapseKey: 'score', senderId: 'S2' }), 2);
  m.accept('t', msg('plain'), 3);
  m.accept('t', msg('k2', { collapseKey: 'score' }), 4);
  assert.equal(m.heldFor('t'), ['other', 'plain', 'k2']);
  m.set('t', 'online', 5);
  assert.equal(got.map((g) => g[1]), ['other', 'plain', 'k2']);
  assert.ok(m.log('t').some((r) => r.message_id === 'k1' && r.fate === 'collapsed' && r.at === 4));
  assert.is(m.totals().collapsed, 1);
});

test('at most 4 collapse keys are held per device: a 5th key collapses the oldest key', () => {
  const { m } = model();
  m.set('t', 'offline', 0);
  for (let i = 1; i <= 5; i++) m.accept('t', msg(`m${i}`, { collapseKey: `key${i}` }), i);
  assert.is(MAX_COLLAPSE_KEYS, 4);
  assert.equal(m.heldFor('t'), ['m2', 'm3', 'm4', 'm5']);
  assert.ok(m.log('t').some((r) => r.message_id === 'm1' && r.fate === 'collapsed'));
});

test('delay_while_idle holds a message for an idle device until it is active; others go at once', () => {
  const { m, got } = model();
  m.set('t', 'idle', 0);
  assert.is(m.accept('t', msg('wait', { delayWhileIdle: true }), 1), 'held');
  assert.is(m.accept('t', msg('now'), 2), 'delivered');
  m.set('t', 'offline', 3);
  m.set('t', 'idle', 4);
  assert.equal(got.map((g) => g[1]), ['now']);
  m.set('t', 'online', 5);
  assert.equal(got.map((g) => g[1]), ['now', 'wait']);
});

test('an unregistered device refuses new messages and drops what it held', () => {
  const { m, got } = model();
  m.set('t', 'offline', 0);
  m.accept('t', msg('a'), 1);
  m.set('t', 'unregistered', 2);
  assert.is(m.accept('t', msg('b'), 3), 'unregistered');
  m.set('t', 'online', 4);
  assert.equal(got, []);
  assert.equal(m.log('t').map((r) => r.fate), ['held', 'dropped']);
  assert.is(m.totals().dropped, 1);
});

test('the seeded schedule: same seed and messages per device → same transitions and fates, in any interleaving', () => {
  const schedule = { offlineShare: 0.4, idleShare: 0.2, meanMessages: 2 };
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 2 ** 31 }), fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.boolean()), { minLength: 1, maxLength: 80 }), fc.nat(),
      (seed, sends, rot) => {
        const fates = (order: Array<[string, boolean, number]>): Map<string, string[]> => {
          const { m } = model({ seed, schedule });
          const out = new Map<string, string[]>();
          for (const [token, dwi, i] of order) {
            const f = m.accept(token, msg(`${token}-${i}`, { delayWhileIdle: dwi }), 0);
            out.set(token, [...(out.get(token) ?? []), `${i}:${f}:${m.presence(token)}`]);
          }
          for (const token of out.keys()) out.set(token, [...(out.get(token) ?? []), ...m.log(token).map((r) => `${r.message_id}:${r.fate}`)]);
          return out;
        };
        const indexed = sends.map(([t, d], i): [string, boolean, number] => [t, d, i]);
        // Another interleaving: tokens rotated, each token's own messages still in order.
        const tokens = ['a', 'b', 'c', 'd'];
        const first = tokens[rot % 4] as string;
        const other = [...indexed.filter((s) => s[0] === first), ...indexed.filter((s) => s[0] !== first)];
        assert.equal([...fates(other).entries()].sort(), [...fates(indexed).entries()].sort());
      }),
    { numRuns: 150, seed: 0xde71ce },
  );
});

test('the schedule makes devices go offline and come back, delivering what they held', () => {
  const { m, got } = model({ seed: 7, schedule: { offlineShare: 0.5, meanMessages: 2 } });
  let held = 0;
  for (let i = 0; i < 400; i++) if (m.accept(`dev-${i % 20}`, msg(`m${i}`), i) === 'held') held++;
  const t = m.totals();
  assert.ok(held > 20 && t.deliveredLater > 0 && t.transitions > 20, JSON.stringify(t));
  assert.is(got.length + t.held, 400, 'every message delivered or still held (no TTL, no collapse)');
});

// Model-based: whatever the operations, every accepted message is in exactly one place (delivered
// once, held, or ended expired/collapsed/dropped), and a device never holds more than 4 keys.
test('property: each message is delivered at most once and accounted for exactly once', () => {
  const op = fc.oneof(
    fc.record({ kind: fc.constant('send' as const), token: fc.constantFrom('x', 'y'), key: fc.option(fc.constantFrom('k1', 'k2', 'k3', 'k4', 'k5', 'k6'), { nil: undefined }), ttl: fc.constantFrom(0, 1, 5, 2419200), dwi: fc.boolean() }),
    fc.record({ kind: fc.constant('set' as const), token: fc.constantFrom('x', 'y'), to: fc.constantFrom('online', 'offline', 'idle', 'unregistered') as fc.Arbitrary<'online' | 'offline' | 'idle' | 'unregistered'> }),
    fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 3000 }) }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const { m, got } = model();
      let now = 0;
      const accepted: string[] = [];
      ops.forEach((o, i) => {
        if (o.kind === 'tick') {
          now += o.ms;
          m.sweep(now);
        } else if (o.kind === 'set') m.set(o.token, o.to, now);
        else if (m.accept(o.token, msg(`m${i}`, { collapseKey: o.key, ttlSeconds: o.ttl, delayWhileIdle: o.dwi }), now) !== 'unregistered') accepted.push(`m${i}`);
      });
      const delivered = got.map((g) => g[1]);
      assert.is(new Set(delivered).size, delivered.length, 'no message delivered twice');
      const held = [...m.heldFor('x'), ...m.heldFor('y')];
      const ended = [...m.log('x'), ...m.log('y')].filter((r) => r.fate === 'expired' || r.fate === 'collapsed' || r.fate === 'dropped').map((r) => r.message_id);
      assert.equal([...delivered, ...held, ...ended].sort(), [...accepted].sort());
      for (const t of ['x', 'y']) {
        const keys = new Set(m.heldFor(t).map((id) => ops[Number(id.slice(1))]).map((o) => (o as { key?: string }).key).filter((k) => k !== undefined));
        assert.ok(keys.size <= MAX_COLLAPSE_KEYS);
      }
    }),
    { numRuns: 300, seed: 0xf00d },
  );
});

test.run();
