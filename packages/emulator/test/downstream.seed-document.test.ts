// The CCS document's own examples, answered as CCS answered them: its request example sends
// `"time_to_live":"600"` (a numeric string, which CCS's Java JSON parser read as a number), and
// `registration_ids` is refused (no multiple recipients on CCS).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsEmulator } from '../src/index.js';
import { TestClient } from './helpers/client.js';

async function session(fn: (c: TestClient, emu: CcsEmulator) => Promise<void>): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 1 });
  await emu.start();
  try {
    const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
    await fn(c, emu);
    await c.close();
  } finally {
    await emu.stop();
  }
}

test('ACKs and delivers the request example of the CCS document, time_to_live "600" included', () =>
  session(async (c, emu) => {
    const m = await c.request({ to: 'REGISTRATION_ID', message_id: 'm-1366082849205', data: { hello: 'world' }, time_to_live: '600', delay_while_idle: true });
    assert.is(m.kind, 'ack');
    assert.equal(emu.deliveredTo('REGISTRATION_ID'), [{ message_id: 'm-1366082849205', data: { hello: 'world' } }]);
  }));

test('NACKs time_to_live "-1" and out of range with INVALID_TTL, "abc" with JSON_TYPE_ERROR', () =>
  session(async (c, emu) => {
    const cases = [['-1', 'INVALID_TTL', '(-1)'], ['2419201', 'INVALID_TTL', '(2419201)'], ['abc', 'JSON_TYPE_ERROR', 'java.lang.Number: abc']] as const;
    for (const [ttl, reason, detail] of cases) {
      const m = await c.request({ to: 'tok', message_id: `m-${ttl}`, time_to_live: ttl });
      assert.is(m.kind, 'nack', ttl);
      if (m.kind !== 'nack') return;
      assert.is(m.error.code, 'INVALID_JSON');
      assert.is(m.error.reason, reason);
      assert.ok(String(m.payload['error_description']).includes(detail), String(m.payload['error_description']));
    }
    assert.is(emu.ledger().downstreamDelivered, 0);
  }));

test('NACKs registration_ids (multicast) with INVALID_JSON / INVALID_TARGET and delivers nothing', () =>
  session(async (c, emu) => {
    const m = await c.request({ to: 'tok', message_id: 'multi', registration_ids: ['a', 'b'] });
    assert.is(m.kind, 'nack');
    if (m.kind !== 'nack') return;
    assert.is(m.error.code, 'INVALID_JSON');
    assert.is(m.error.reason, 'INVALID_TARGET');
    assert.is(emu.ledger().downstreamDelivered, 0);
  }));

test.run();
