// Receipts as promises in real child processes whose only handles are one CcsClient's, against the
// emulator (the device is offline, so the emulator holds the receipt until the test lets it go):
// a process waiting for a receipt stays alive until it comes and then ends by itself; unref() is
// honoured while a receipt is awaited; receipt promises nobody looks at never end the process with
// an unhandled rejection, whichever way they reject.
import { CcsEmulator } from '@ccs-xmpp/emulator';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENT_CHILD, spawnChild, type Child } from './helpers/child.js';

const SENDER = '1234567890';

async function withEmulator(fn: (emu: CcsEmulator) => Promise<void>): Promise<void> {
  const emu = new CcsEmulator({ port: 0, seed: 7, keepaliveIntervalMs: 0 });
  await emu.start();
  emu.deviceModel.set('phone', 'offline');
  try {
    await fn(emu);
  } finally {
    await emu.stop();
  }
}

function child(scenario: string, emu: CcsEmulator, opts: object = {}): Child {
  return spawnChild(CLIENT_CHILD, [scenario, String(emu.port)], {
    CHILD_CA: emu.ca, CHILD_OPTS: JSON.stringify({ senderId: SENDER, apiKey: 'emulator-api-key', ...opts }),
  });
}

test('a process awaiting send({ receipt: true }) stays alive until the held receipt arrives, then closes and exits 0 by itself', () =>
  withEmulator(async (emu) => {
    const c = child('receipt-wait', emu);
    try {
      await c.waitLine((l) => l['event'] === 'acked');
      // Time to exit, had nothing held it while the receipt is awaited.
      await new Promise((r) => setTimeout(r, 500));
      assert.is(c.proc.exitCode, null, 'still running while the receipt is awaited');
      emu.deviceModel.set('phone', 'online');
      const r = await c.exited;
      // Killed at 20 s otherwise: the 10-minute receipt timer left armed would hold the process.
      assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
      assert.equal(c.lines.map((l) => l['event']), ['online', 'acked', 'receipt', 'closed']);
      assert.equal(c.lines[1], { event: 'acked', id: 'kr-1', waiting: 1 });
      assert.equal(c.lines[2], { event: 'receipt', id: 'kr-1', waiting: 0 });
    } finally {
      c.proc.kill('SIGKILL');
    }
  }));

test('unref() while a receipt is awaited (60 s timeout): the process ends without it', () =>
  withEmulator(async (emu) => {
    const c = child('receipt-unref', emu);
    try {
      const r = await c.exited;
      assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
      assert.equal(c.lines.map((l) => l['event']), ['online', 'unrefd', 'exit']);
      assert.equal(c.lines[2], { event: 'exit', waiting: 1 }, 'the receipt was still awaited when the process ended');
    } finally {
      c.proc.kill('SIGKILL');
    }
  }));

test('receipt promises nobody handles, rejected by timeout, by the cap and by close(), do not crash the process', () =>
  withEmulator(async (emu) => {
    const c = child('receipt-ignored', emu, { maxReceiptWaiters: 2 });
    try {
      const r = await c.exited;
      assert.is(r.code, 0, `exit ${r.code} ${r.signal}; ${c.stderr()}`);
      assert.equal(c.lines.map((l) => l['event']), ['online', 'stats', 'closed']);
      assert.equal(c.lines[1], { event: 'stats', timeouts: 1, evicted: 1, waiting: 1 });
      assert.not.match(c.stderr(), /unhandled|Unhandled/);
    } finally {
      c.proc.kill('SIGKILL');
    }
  }));

test.run();
