// A connection hands its downstream run to the stream every 8 KiB within a tick (the stream writes
// a tick's first 8 KiB at once, so the peer starts on them) only while its free window can make
// two more such runs, and its whole window four: a tick that fills the window goes out as one
// socket write, not as a write and a tail.
import * as net from 'node:net';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CcsClient } from '../src/index.js';
import { clientOptions, startScriptedServer } from './helpers/scripted-server.js';

const OPEN = Buffer.from('<message id="');

/** Counts the client's downstream buffers (`<message id="…` with `"to":"run-`) as they reach the socket, a writev's chunks each. */
function countDownstreamWrites(): { writes: () => number; stop: () => void } {
  const proto = net.Socket.prototype as unknown as { _writeGeneric: (writev: boolean, data: unknown, ...rest: unknown[]) => unknown };
  const original = proto._writeGeneric;
  let writes = 0;
  const see = (data: unknown): void => {
    if (Buffer.isBuffer(data) && data.subarray(0, OPEN.length).equals(OPEN) && data.includes('"to":"run-')) writes++;
  };
  proto._writeGeneric = function (this: net.Socket, writev: boolean, data: unknown, ...rest: unknown[]): unknown {
    if (writev) for (const c of data as Array<{ chunk: unknown }>) see(c.chunk);
    else see(data);
    return original.call(this, writev, data, ...rest);
  };
  return { writes: () => writes, stop: () => void (proto._writeGeneric = original) };
}

/** Sends `n` messages of ~300 bytes in one tick and waits for their ACKs; how many socket writes carried them. */
async function burst(maxPending: number, n: number): Promise<number> {
  const server = await startScriptedServer();
  const client = new CcsClient(clientOptions(server, { maxPending }));
  try {
    await client.connect();
    const count = countDownstreamWrites();
    try {
      const pad = 'p'.repeat(150);
      await Promise.all(Array.from({ length: n }, (_, i) => client.send({ to: 'run-tok', data: { n: String(i), pad } })));
      assert.is(server.received.length, n);
      return count.writes();
    } finally {
      count.stop();
    }
  } finally {
    await client.close({ timeoutMs: 500 });
    await server.stop();
  }
}

test('a tick that fills a window of 40 (~12 KB) goes out in one socket write', async () => {
  assert.is(await burst(40, 40), 1);
});

test('a tick of 60 (~17 KB) that fills its window goes out in one write, not 8 KiB and the rest', async () => {
  // After the first ~8 KiB (~28 stanzas) the window has room for ~32 more, ~9 KB: one run, not two.
  assert.is(await burst(60, 60), 1);
});

test('a tick of 100 (~28 KB) that fills a window of 100 goes out in one write: a window of four runs or less is not split', async () => {
  // After the first ~8 KiB the window has room for ~72 more, ~20 KB, but the whole window is under
  // 32 KiB: at 16 connections the split drifted the batches off the floor's (bench/ANALYSIS.md, sixteenth pass).
  assert.is(await burst(100, 100), 1);
});

test('with room for more, the same tick still starts with its first 8 KiB at once', async () => {
  assert.is(await burst(1000, 40), 2);
  // After the first ~8 KiB of 100 a window of 200 has room for ~170 more, ~48 KB: the early write stays.
  assert.is(await burst(200, 100), 2);
});

test.run();
