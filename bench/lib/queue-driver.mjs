// The queue driver of bench/ccs-client.mjs (bench/lib/client-worker.mjs's, for one sender), for the
// micros that must drive a client exactly as the benchmark does: `trySend` until refused, then
// `waitForCapacity()`; one pair of settlement callbacks for every send — a closure per send would
// add objects to every pending message and to what the micros count.

/** client-worker's payload to `to`: the message `i` of a run. */
export const payloadFor = (to) => (i) => ({ to, data: { type: 'chat', title: 'New message', body: 'Alice: are we still on for 7pm?', thread: 'th-42', seq: String(i) } });

/**
 * Sends messages `base` … `base + n − 1` through `client` (anything with trySend / waitForCapacity)
 * and resolves once every one settled, with the counts `{ acked, failed }` (the same object, still
 * counting: a settlement after the last would show there). Throws if trySend refuses right after
 * waitForCapacity.
 */
export async function driveQueue(client, payload, base, n) {
  const counts = { acked: 0, failed: 0 };
  let done;
  const all = new Promise((r) => (done = r));
  const ok = () => {
    if (++counts.acked + counts.failed === n) done();
  };
  const bad = () => {
    if (counts.acked + ++counts.failed === n) done();
  };
  for (let i = 0; i < n; i++) {
    let p = client.trySend(payload(base + i));
    if (p === undefined) {
      await client.waitForCapacity();
      p = client.trySend(payload(base + i));
      if (p === undefined) throw new Error('trySend refused after waitForCapacity');
    }
    p.then(ok, bad);
  }
  await all;
  return counts;
}
