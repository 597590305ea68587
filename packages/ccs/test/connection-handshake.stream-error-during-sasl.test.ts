// A stream error the server sends in the middle of SASL (after our <auth>, before any SASL answer).
// `system-shutdown` is the server going away, not a verdict on the credentials: it read
// CCS_ERR_AUTH (step auth), as a wrong API key does, where the same error one step later (after
// <success/>) reads CCS_ERR_STREAM. Only `not-authorized` speaks about the credentials.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, HandshakeError, type ReconnectEvent } from '../src/index.js';
import { API_KEY, clientOptions, startScriptedServer, type ScriptedServerOptions } from './helpers/scripted-server.js';

for (const condition of ['system-shutdown', 'reset', 'internal-server-error'] as const) {
  test(`a <${condition}/> stream error mid-SASL rejects connect() with CCS_ERR_STREAM, retryable, not CCS_ERR_AUTH`, async () => {
    const server = await startScriptedServer({ streamErrorAtAuth: condition });
    const client = new CcsClient(clientOptions(server));
    try {
      const err = await client.connect().then(() => undefined, (e: unknown) => e);
      assert.instance(err, HandshakeError);
      const h = err as HandshakeError;
      assert.is(h.code, 'CCS_ERR_STREAM');
      assert.is(h.step, 'stream');
      assert.is(h.retryable, true);
      assert.is(h.condition, condition);
      assert.match(h.message, `during the "auth" step`);
      assert.match(h.message, `<${condition}/>`);
      assert.not.ok(h.message.includes(API_KEY));
    } finally {
      client.destroy();
      await server.stop();
    }
  });
}

test('a <not-authorized/> stream error mid-SASL is still the credentials refused: CCS_ERR_AUTH, not retryable', async () => {
  const server = await startScriptedServer({ streamErrorAtAuth: 'not-authorized' });
  const client = new CcsClient(clientOptions(server));
  try {
    const h = (await client.connect().then(() => undefined, (e: unknown) => e)) as HandshakeError;
    assert.instance(h, HandshakeError);
    assert.is(h.code, 'CCS_ERR_AUTH');
    assert.is(h.step, 'auth');
    assert.is(h.condition, 'not-authorized');
    assert.is(h.retryable, false);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test('a reconnect met by system-shutdown mid-SASL is reported as CCS_ERR_STREAM and retried until the server is back', async () => {
  const options: ScriptedServerOptions = {};
  const server = await startScriptedServer(options);
  const client = new CcsClient(clientOptions(server, { reconnectBaseMs: 20, reconnectMaxMs: 40 }));
  const errors: Array<{ code: string; retryable: unknown }> = [];
  const reconnects: ReconnectEvent[] = [];
  client.on('error', (e) => errors.push({ code: (e as HandshakeError).code, retryable: (e as HandshakeError).retryable }));
  client.on('reconnecting', (e) => reconnects.push(e));
  try {
    await client.connect();
    options.streamErrorAtAuth = 'system-shutdown';
    server.latest().cut();
    await server.until(() => errors.length >= 2);
    options.streamErrorAtAuth = undefined;
    await server.until(() => client.stats().connections.online === 1);
    assert.ok(errors.every((e) => e.code === 'CCS_ERR_STREAM' && e.retryable === true), JSON.stringify(errors));
    assert.ok(reconnects.slice(1).every((r) => (r.error as HandshakeError | undefined)?.code === 'CCS_ERR_STREAM'), 'each retry names the stream failure');
    const r = await client.send({ to: 'tok-1', data: { after: 'shutdown' } });
    assert.type(r.messageId, 'string');
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
