// A listener of the client's events that throws: its error surfaces on its own, as an uncaught
// exception (as a dispatch() callback's does), and the client's processing around the emit goes on —
// the connection stays up, the message is ACKed, a lost connection is replaced, connect() resolves.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient, type ConnectionEvent } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Runs `fn` with uncaught exceptions collected (the test runner's guard defers to a listener of ours). */
async function collectingUncaught(fn: (uncaught: Error[]) => Promise<void>): Promise<void> {
  const uncaught: Error[] = [];
  const onUncaught = (err: Error): void => {
    uncaught.push(err);
  };
  process.on('uncaughtException', onUncaught);
  try {
    await fn(uncaught);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
}

test('a receipt listener that throws: the receipt is ACKed, the connection stays up, the error is an uncaught exception', async () => {
  await collectingUncaught(async (uncaught) => {
    const server = await startScriptedServer();
    const client = new CcsClient(clientOptions(server));
    const offline: ConnectionEvent[] = [];
    client.on('offline', (e) => offline.push(e));
    client.on('receipt', () => {
      throw new Error('boom from the receipt listener');
    });
    try {
      await client.connect();
      const c = server.latest();
      c.receipt('m-1');
      c.receipt('m-2');
      await server.until(() => c.acks.length === 2);
      await tick(50);
      assert.equal(offline, [], 'the connection stays up');
      assert.is(server.conns.length, 1);
      assert.equal(uncaught.map((e) => e.message), ['boom from the receipt listener', 'boom from the receipt listener']);
      assert.is((await client.send({ to: 'tok' })).from, 'tok');
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
});

test('an upstream listener that throws: the message is ACKed once and the connection stays up', async () => {
  await collectingUncaught(async (uncaught) => {
    const server = await startScriptedServer();
    const client = new CcsClient(clientOptions(server));
    const offline: ConnectionEvent[] = [];
    client.on('offline', (e) => offline.push(e));
    client.on('upstream', () => {
      throw new Error('boom from the upstream listener');
    });
    try {
      await client.connect();
      const c = server.latest();
      c.upstream('dev-1', 'u1');
      c.upstream('dev-1', 'u2');
      await server.until(() => c.acks.length === 2);
      await tick(50);
      assert.equal(offline, []);
      assert.is(server.conns.length, 1);
      assert.is(uncaught.length, 2);
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
});

test('an offline listener that throws: the lost connection is still replaced', async () => {
  await collectingUncaught(async (uncaught) => {
    const server = await startScriptedServer();
    const client = new CcsClient(clientOptions(server));
    client.on('offline', () => {
      throw new Error('boom from the offline listener');
    });
    try {
      await client.connect();
      server.latest().cut();
      await server.until(() => server.conns.length === 2 && server.conns[1]!.online);
      assert.equal(uncaught.map((e) => e.message), ['boom from the offline listener']);
      assert.is((await client.send({ to: 'tok' })).from, 'tok');
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
});

test('an online listener that throws: connect({ all: true }) still resolves once every connection is online', async () => {
  await collectingUncaught(async (uncaught) => {
    const server = await startScriptedServer();
    const client = new CcsClient(clientOptions(server, { connections: 2 }));
    client.on('online', () => {
      throw new Error('boom from the online listener');
    });
    try {
      await client.connect({ all: true });
      assert.is(client.stats().connections.online, 2);
      await tick(10);
      assert.is(uncaught.length, 2);
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
});

test('an error listener that throws: the connection stays up and the failed handler\'s message is left un-ACKed', async () => {
  await collectingUncaught(async (uncaught) => {
    const server = await startScriptedServer();
    const client = new CcsClient(clientOptions(server, {
      onUpstream: () => {
        throw new Error('the handler failed');
      },
    }));
    const offline: ConnectionEvent[] = [];
    client.on('offline', (e) => offline.push(e));
    client.on('error', () => {
      throw new Error('boom from the error listener');
    });
    try {
      await client.connect();
      const c = server.latest();
      c.upstream('dev-1', 'u1');
      await server.until(() => uncaught.length === 1);
      await tick(50);
      assert.equal(offline, []);
      assert.is(c.acks.length, 0);
      assert.is((await client.send({ to: 'tok' })).from, 'tok');
    } finally {
      await client.close({ timeoutMs: 500 });
      await server.stop();
    }
  });
});

test.run();
