// Regression: upstream messages that a server writes right after the bind result, before it
// answers the session IQ, were dropped (found against the emulator after a reconnect).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

test('delivers and ACKs upstream messages that arrive between bind and the session result', async () => {
  const server = await startScriptedServer({ session: true, upstreamAfterBind: 3 });
  const seen: string[] = [];
  const client = new CcsClient(clientOptions(server, { onUpstream: (m: { messageId: string }) => void seen.push(m.messageId) }));
  try {
    await client.connect();
    await server.until(() => server.conns[0]!.acks.length === 3);
    assert.equal(seen, ['early-1-0', 'early-1-1', 'early-1-2']);
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
});

test.run();
