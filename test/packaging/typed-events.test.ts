// Type-level tests of the public event maps: a misspelt event name or a listener that takes the
// wrong payload does not compile, and the correct uses do (including Node's `events.once()` on a
// client). tsc runs on a fixture against the packages' built .d.ts: each line marked `// error`
// must have a compile error, and no other line may.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const FIXTURE = `
import { once } from 'node:events';
import { CcsClient, type ConnectionEvent, type ReceiptMessage, type UpstreamMessage } from '@ccs-xmpp/ccs';
import { CcsEmulator, type EmulatorEvent } from '@ccs-xmpp/emulator';

declare const client: CcsClient;
client.on('online', (e: ConnectionEvent) => e.connectionId.length);
client.on('receipt', (r) => r.originalMessageId);
client.once('reconnecting', (e) => e.attempt + e.delayMs);
client.on('upstream', (m: UpstreamMessage) => m.from);
client.on('drain', () => undefined);
client.on('settled', (e) => e.messageId);
client.on('error', (err) => err.message);
client.off('online', () => undefined);
const [first] = await once(client, 'online');
void first;
client.on('recieve', () => undefined); // error
client.on('online', (e: ReceiptMessage) => e.messageId); // error
client.on('reconnecting', (e) => e.attemps); // error
client.on('drain', (x: string) => x); // error
client.emit('online', { connectionId: 1 }); // error
const acked = await client.send({ to: 't' }, { receipt: true });
void acked.receipt.then((r: ReceiptMessage) => r.originalMessageId);
void (await client.trySend({ to: 't' }, { receipt: true, receiptTimeoutMs: 5000 }))?.receipt.catch((e: unknown) => e);
void (await client.send({ to: 't' })).receipt; // error
void acked.receipt.then((r) => r.orginalMessageId); // error

declare const emu: CcsEmulator;
emu.on('event', (e: EmulatorEvent) => {
  if (e.type === 'nack') return e.code + e.messageId;
  if (e.type === 'auth') return e.ok ? e.senderId : e.condition;
  if (e.type === 'fault') return e.fault;
  return e.type;
});
emu.on('event', (e) => (e.type === 'downstream' ? e.to : undefined));
emu.on('evnet', () => undefined); // error
emu.on('event', (e: EmulatorEvent) => e.code); // error
emu.on('event', (e) => (e.type === 'ack' ? e.code : undefined)); // error
emu.on('event', (e) => e.type === 'nakc'); // error
`;

function tsc(cwd: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env };
    delete env['NODE_V8_COVERAGE'];
    const child = spawn(process.execPath, [TSC, '-p', 'tsconfig.json', '--pretty', 'false'], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
  });
}

test('a misspelt event or a wrong payload type fails to compile; correct listeners compile', Object.assign(async () => {
  // Inside the repository, so that @ccs-xmpp/* resolve through its node_modules to the built .d.ts.
  const dir = join(ROOT, '.tmp', `typed-events-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(join(dir, 'fixture.ts'), FIXTURE);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', lib: ['ES2023'], module: 'nodenext', moduleResolution: 'nodenext', strict: true,
        noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')],
      },
      files: ['fixture.ts'],
    }));
    const out = await tsc(dir);
    const errorLines = new Set([...out.matchAll(/^fixture\.ts\((\d+),\d+\): error TS\d+/gm)].map((m) => Number(m[1])));
    const lines = FIXTURE.split('\n');
    const expected = new Set(lines.flatMap((l, i) => (l.endsWith('// error') ? [i + 1] : [])));
    assert.ok(expected.size >= 8, 'the fixture has its error lines');
    for (const n of expected) assert.ok(errorLines.has(n), `line ${n} must not compile: ${lines[n - 1]}\n${out}`);
    for (const n of errorLines) assert.ok(expected.has(n), `line ${n} must compile: ${lines[n - 1]}\n${out}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { timeoutMs: 300_000 }));

test.run();
