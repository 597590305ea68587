// A store that fails to close when the client is torn down with no caller to reject — destroy(), or
// reconnectStrategy giving up — and no `error` listener: the failure was reported nowhere (the
// `error` event is emitted only when someone listens, and nothing else is left to say it). It is now a
// process warning: the user sees it (stderr, or `process.on('warning')`), the process does not crash.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, StoreError } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';
import { FailingCloseOutbox } from './helpers/failing-close-store.js';


/** Collects the process warnings emitted while `fn` and a short wait run. */
async function warningsDuring(fn: () => Promise<void>): Promise<Error[]> {
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => {
    warnings.push(w);
  };
  process.on('warning', onWarning);
  try {
    await fn();
    await new Promise((r) => setTimeout(r, 50)); // warnings are emitted on the next tick
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

for (const how of ['throw', 'reject'] as const) {
  test(`destroy() with no error listener over a store whose close() ${how === 'throw' ? 'throws' : 'rejects'}: a process warning carries the StoreError (operation close), no crash, no secret`, async () => {
    const server = await startScriptedServer();
    const store = new FailingCloseOutbox(how);
    const client = new CcsClient(clientOptions(server, { store }));
    try {
      const warnings = await warningsDuring(async () => {
        await client.connect();
        client.destroy();
      });
      const mine = warnings.filter((w) => (w as { code?: string }).code === 'CCS_ERR_STORE');
      assert.is(mine.length, 1, `one warning, got ${warnings.map((w) => w.message).join('; ')}`);
      const w = mine[0] as StoreError;
      assert.instance(w, StoreError);
      assert.is(w.operation, 'close');
      assert.is((w.cause as Error).message, 'outbox close: password=hunter2');
      assert.not.match(w.message, /hunter2/);
      assert.not.match(String(w.stack), /hunter2/);
      assert.is(store.closes, 1);
      // Nothing left to report it: a close() afterwards resolves (there is nothing to close).
      await client.close({ timeoutMs: 100 });
    } finally {
      await server.stop();
    }
  });
}

test('with an error listener the failed close goes there only, not also as a warning (reported once)', async () => {
  const server = await startScriptedServer();
  const store = new FailingCloseOutbox('reject');
  const client = new CcsClient(clientOptions(server, { store }));
  const errors: Error[] = [];
  client.on('error', (e) => errors.push(e));
  try {
    const warnings = await warningsDuring(async () => {
      await client.connect();
      client.destroy();
    });
    assert.is(warnings.filter((w) => (w as { code?: string }).code === 'CCS_ERR_STORE').length, 0);
    assert.is(errors.length, 1);
    assert.is((errors[0] as StoreError).operation, 'close');
  } finally {
    await server.stop();
  }
});

test('reconnectStrategy giving up with no error listener: the failed store close is a process warning too', async () => {
  const server = await startScriptedServer();
  const store = new FailingCloseOutbox('reject');
  const client = new CcsClient(clientOptions(server, { store, reconnectStrategy: () => false }));
  try {
    const warnings = await warningsDuring(async () => {
      await client.connect();
      server.latest().cut();
      await server.until(() => store.closes === 1, 5000);
    });
    assert.equal(warnings.filter((w) => (w as { code?: string }).code === 'CCS_ERR_STORE').map((w) => (w as StoreError).operation), ['close']);
  } finally {
    client.destroy();
    await server.stop();
  }
});

test.run();
