import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GcmEncoder } from '@ccs-xmpp/stanza';

// Memory outside the heap held by Buffers: a slab counts here from the moment it is allocated.
const arrayBuffers = (): number => process.memoryUsage().arrayBuffers;

test('an encoder holds no slab until its first stanza, then one of slabSize', () => {
  const n = 64;
  const before = arrayBuffers();
  const encoders = Array.from({ length: n }, () => new GcmEncoder());
  const idle = arrayBuffers() - before;
  // 64 encoders used to hold 64 × 64 KiB at once: nothing of the sort now.
  assert.ok(idle < 64 * 1024, `${n} idle encoders hold ${idle} bytes`);
  const out = encoders.map((e, i) => e.encodeDownstream({ to: 'tok', data: { i } }, `m${i}`));
  // Each stanza is a view of its encoder's slab: one slab per encoder, each of slabSize. (The
  // process-wide arrayBuffers figure cannot show this: a collection of unrelated buffers between the
  // two readings made it fall short on a loaded machine.)
  const slabs = new Set(out.map((b) => b.buffer));
  assert.is(slabs.size, n, 'one slab per encoder');
  for (const slab of slabs) assert.is(slab.byteLength, 64 * 1024);
  assert.is(out[3]?.toString(), '<message id="m3"><gcm xmlns="google:mobile:data">{"to":"tok","data":{"i":3},"message_id":"m3"}</gcm></message>');
});

test('a fresh encoder writes its first stanza by every path', () => {
  const expect = (b: Buffer, s: string): void => assert.is(b.toString(), s);
  const open = '<message id="a"><gcm xmlns="google:mobile:data">';
  expect(new GcmEncoder().encodeDownstream({ to: 't', message_id: 'a' }), `${open}{"to":"t","message_id":"a"}</gcm></message>`);
  expect(new GcmEncoder().encodeDownstream({ to: 't<', message_id: 'a' }), `${open}{"to":"t&lt;","message_id":"a"}</gcm></message>`);
  expect(new GcmEncoder().encodeAck('t', 'a'), `${open}{"to":"t","message_id":"a","message_type":"ack"}</gcm></message>`);
  expect(new GcmEncoder().encode({ x: 1 }), '<message><gcm xmlns="google:mobile:data">{"x":1}</gcm></message>');
  // Larger than the slab: a buffer of its own.
  const big = new GcmEncoder({ slabSize: 1024 }).encodeJson(`{"big":"${'x'.repeat(5000)}"}`);
  assert.is(big.length, 5000 + 10 + '<message><gcm xmlns="google:mobile:data"></gcm></message>'.length);
  assert.ok(big.toString().endsWith('xxx"}</gcm></message>'));
});

test.run();
