// What CCS really sent and accepted, from the client's side: the CCS document's own request example
// (time_to_live as a string), multicast refused, device-group ACKs with success/failure counts, and
// both NACK shapes (the document's composite `error` text and the legacy AUTHENTICATION_FAILED /
// QUOTA_EXCEEDED codes) classified as final, never retried.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, InvalidMessageError, NackError } from '../src/index.js';
import { clientOptions, startScriptedServer, type ServerConn } from './helpers/scripted-server.js';
import type { JsonObject } from '@ccs-xmpp/stanza';

async function withServer(
  onDownstream: (c: ServerConn, m: JsonObject) => void,
  fn: (client: CcsClient, received: () => JsonObject[]) => Promise<void>,
): Promise<void> {
  const server = await startScriptedServer({ onDownstream });
  const client = new CcsClient(clientOptions(server, { retryBaseMs: 5, retryMaxMs: 20 }));
  try {
    await client.connect();
    await fn(client, () => server.received.map((r) => r.msg));
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
}

test('sends the CCS document request example with time_to_live "600" as written, and resolves on its ACK', () =>
  withServer((c, m) => c.ack(m['message_id'] as string), async (client, received) => {
    const r = await client.send({ to: 'REGISTRATION_ID', message_id: 'm-1366082849205', data: { hello: 'world' }, time_to_live: '600', delay_while_idle: true });
    assert.is(r.messageId, 'm-1366082849205');
    assert.is(received()[0]?.['time_to_live'], '600');
  }));

test('refuses time_to_live "-1", "abc" and "2419201" locally, before anything is sent', () =>
  withServer((c, m) => c.ack(m['message_id'] as string), async (client, received) => {
    for (const [ttl, reason] of [['-1', 'INVALID_TTL'], ['abc', 'JSON_TYPE_ERROR'], ['2419201', 'INVALID_TTL']] as const) {
      const err = await client.send({ to: 'tok', time_to_live: ttl }).catch((e: unknown) => e);
      assert.instance(err, InvalidMessageError, ttl);
      assert.is((err as InvalidMessageError).reason, reason);
    }
    assert.is(received().length, 0);
  }));

test('refuses registration_ids locally: CCS has no multicast', () =>
  withServer((c, m) => c.ack(m['message_id'] as string), async (client, received) => {
    const err = await client.send({ to: 'tok', registration_ids: ['a', 'b'] }).catch((e: unknown) => e);
    assert.instance(err, InvalidMessageError);
    assert.is((err as InvalidMessageError).field, 'registration_ids');
    assert.is(received().length, 0);
  }));

test('a device-group ACK resolves with success, failure and failed_registration_ids in deviceGroup', () =>
  withServer((c, m) => {
    const id = m['message_id'] as string;
    if (id === 'all') c.ack(id, { success: 2, failure: 0 });
    else c.ack(id, { success: 1, failure: 2, failed_registration_ids: ['regId1', 'regId2'] });
  }, async (client) => {
    const all = await client.send({ to: 'aUniqueKey', message_id: 'all', data: { hello: 'This is a FCM Topic Message!' } });
    assert.equal(all.deviceGroup, { success: 2, failure: 0, failedRegistrationIds: [] });
    const partial = await client.send({ to: 'aUniqueKey', message_id: 'partial' });
    assert.equal(partial, {
      messageId: 'partial', from: 'aUniqueKey', registrationId: undefined, retries: 0,
      deviceGroup: { success: 1, failure: 2, failedRegistrationIds: ['regId1', 'regId2'] },
    });
  }));

test('a plain ACK has no deviceGroup field at all', () =>
  withServer((c, m) => c.ack(m['message_id'] as string), async (client) => {
    const r = await client.send({ to: 'tok', message_id: 'plain' });
    assert.not.ok('deviceGroup' in r);
  }));

// [the NACK's `error` as CCS sent it, its code, its reason]
const legacy: Array<[string, string, string | undefined]> = [
  ['InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live": must be between 0 and "2419200"\n', 'INVALID_JSON', 'INVALID_TTL'],
  ['InvalidJson : JSON_TYPE_ERROR : Field "delay_while_idle" must be a JSON java.lang.Boolean: not-boolean-user-supplied-value\n', 'INVALID_JSON', 'JSON_TYPE_ERROR'],
  ['INVALID_TTL', 'INVALID_JSON', 'INVALID_TTL'],
  ['AUTHENTICATION_FAILED', 'AUTHENTICATION_FAILED', undefined],
  ['QUOTA_EXCEEDED', 'QUOTA_EXCEEDED', undefined],
];
for (const [error, code, reason] of legacy) {
  test(`classifies the legacy NACK ${JSON.stringify(error.slice(0, 40))} as ${code}${reason ? `/${reason}` : ''}, final, never retried`, () =>
    withServer((c, m) => c.nack(m['message_id'] as string, error), async (client, received) => {
      const err = await client.send({ to: 'APA91bHFOtaQGSwupt5l1og', message_id: 'msgId1' }).catch((e: unknown) => e);
      assert.instance(err, NackError);
      const n = err as NackError;
      assert.is(n.nackCode, code);
      assert.is(n.reason, reason);
      assert.is(n.retryClass, 'never');
      assert.is(n.retries, 0);
      assert.is(n.raw, error);
      if (reason !== undefined && error.includes(' : ')) assert.ok(n.description.startsWith(error.includes('TTL') ? 'Invalid value (-1)' : 'Field "delay_while_idle"'));
      await new Promise((r) => setTimeout(r, 50));
      assert.is(received().length, 1, 'sent once, never retried');
    }));
}

test.run();
