// The process-wide table of prefix slots (message-id.ts) held the first MessageIdGenerator of each
// prefix for good, and with it whatever kept that generator (a client made with its own
// `messageIdPrefix`). It holds each prefix's data only now. In a child process: the suite shares one
// process and one table, and the cap (256 distinct prefixes) is reached only once per process.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const execFileP = promisify(execFile);

test('the prefix table keeps no generator alive, and past 256 prefixes ids are strings that still match their ACKs over TLS (child process)', async () => {
  const messageIds = new URL('../src/message-id.js', import.meta.url).href;
  const index = new URL('../src/index.js', import.meta.url).href;
  const emulator = import.meta.resolve('@ccs-xmpp/emulator');
  const script = `
    const { MessageIdGenerator, MAX_PREFIX_SLOTS, generatedId, processPrefix } = await import(${JSON.stringify(messageIds)});
    const { CcsClient } = await import(${JSON.stringify(index)});
    const { CcsEmulator } = await import(${JSON.stringify(emulator)});
    const out = { cap: MAX_PREFIX_SLOTS };
    const collect = async () => {
      // A WeakRef's target stays alive until the end of the job that made or read it.
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 0));
        globalThis.gc();
      }
    };

    // A generator made for a new prefix: its slot stays, the generator does not.
    let probe = new MessageIdGenerator('gc-probe-');
    const probeSlot = probe.slot;
    probe.nextCounter();
    const probeRef = new WeakRef(probe);
    probe = undefined;
    await collect();
    out.probeSlot = probeSlot;
    out.probeCollected = probeRef.deref() === undefined;
    out.probeIdAfter = generatedId(probeSlot, 36);
    out.probeTwinSlot = new MessageIdGenerator('gc-probe-').slot;

    // 300 distinct prefixes: the process prefix and the probe hold two slots already.
    const slots = Array.from({ length: 300 }, (_, i) => new MessageIdGenerator('p-' + i + '-').slot);
    out.slots = slots;
    out.pastCapNext = new MessageIdGenerator('p-299-').next();

    // Clients over TLS: a prefix with a slot, two past the cap, the process prefix.
    const emu = new CcsEmulator({ port: 0, seed: 5, keepaliveIntervalMs: 0 });
    await emu.start();
    const base = { senderId: '1234567890', apiKey: 'emulator-api-key', host: '127.0.0.1', port: emu.port, tls: { ca: emu.ca, servername: 'localhost' }, handshakeTimeoutMs: 3000 };
    out.clients = [];
    try {
      for (const prefix of ['p-5-', 'p-260-', 'p-299-', undefined]) {
        const client = new CcsClient({ ...base, maxPending: 20, ...(prefix === undefined ? {} : { messageIdPrefix: prefix }) });
        try {
          await client.connect();
          const to = 'device-' + (prefix ?? 'process');
          const results = await Promise.all(Array.from({ length: 100 }, (_, i) => client.send({ to, data: { seq: String(i) } })));
          const p = prefix ?? processPrefix();
          const expected = Array.from({ length: 100 }, (_, i) => p + i.toString(36));
          const wire = emu.deliveredTo(to).map((d) => d.message_id);
          out.clients.push({
            prefix: p,
            resultsAsExpected: results.every((r, i) => r.messageId === expected[i]),
            wireAsExpected: JSON.stringify([...wire].sort()) === JSON.stringify([...expected].sort()),
          });
        } finally {
          await client.close({ timeoutMs: 1000 });
        }
      }
    } finally {
      await emu.stop();
    }
    process.stdout.write(JSON.stringify(out));
  `;
  const { stdout } = await execFileP(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { timeout: 60_000 });
  const out = JSON.parse(stdout) as {
    cap: number; probeSlot: number; probeCollected: boolean; probeIdAfter: string; probeTwinSlot: number;
    slots: number[]; pastCapNext: string;
    clients: Array<{ prefix: string; resultsAsExpected: boolean; wireAsExpected: boolean }>;
  };
  assert.is(out.cap, 256);
  assert.ok(out.probeSlot >= 0, 'the probe prefix has a slot');
  assert.ok(out.probeCollected, 'the table does not keep the first generator of a prefix alive');
  assert.is(out.probeIdAfter, 'gc-probe-10', 'the slot still spells its ids without the generator');
  assert.is(out.probeTwinSlot, out.probeSlot, 'a later generator of the prefix finds its slot');
  // Slots 0 (the process prefix) and 1 (the probe) are taken: p-0- … p-253- fill the table, the rest have none.
  const withSlot = out.slots.filter((s) => s >= 0);
  assert.is(withSlot.length, out.cap - 2);
  assert.is(new Set([...withSlot, out.probeSlot]).size, out.cap - 1, 'one slot per prefix');
  assert.ok(out.slots.slice(0, out.cap - 2).every((s) => s >= 0));
  assert.ok(out.slots.slice(out.cap - 2).every((s) => s === -1), 'the 257th prefix and later make their ids as strings');
  assert.is(out.pastCapNext, 'p-299-0');
  assert.is(out.clients.length, 4);
  for (const c of out.clients) {
    assert.ok(c.resultsAsExpected, `${c.prefix}: every send ACKed with its id, in order`);
    assert.ok(c.wireAsExpected, `${c.prefix}: the ids on the wire are prefix + counter`);
  }
});

test.run();
