// The queue driver of bench/ccs-client.mjs (bench/lib/client-worker.mjs's, for one sender), for the
// micros that must drive a client exactly as the benchmark does: `trySend` until refused, then
// `waitForCapacity()`; one pair of settlement callbacks for every send — a closure per send would
// add objects to every pending message and to what the micros count. `driveDispatch` is the same
// through the promise-free API (`dispatch(message, callback)`, false when the queue is full): one
// callback shared by every send, so a pending message holds no promise and no `then` of its own.

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

/**
 * {@link driveQueue} through `dispatch(message, callback)` (CcsClient's promise-free send, or the API
 * floor's): `false` is the refusal, one shared `callback(error, result)` counts every settlement.
 * Resolves with `{ acked, failed, firstError }` once every message settled (the same object, still
 * counting). Throws if `client` has no `dispatch`, or if it refuses right after waitForCapacity.
 * `onSettled(count)`, when given, is called after each settlement with the count so far (the e2e
 * worker's quarter meter).
 */
export async function driveDispatch(client, payload, base, n, onSettled) {
  if (typeof client.dispatch !== 'function') throw new Error('this client has no dispatch(message, callback): a build before the promise-free send');
  const counts = { acked: 0, failed: 0, firstError: undefined };
  let done;
  const all = new Promise((r) => (done = r));
  const settle = (err) => {
    if (err === undefined) counts.acked++;
    else {
      counts.failed++;
      counts.firstError ??= String(err.code ?? err.message ?? err);
    }
    const settled = counts.acked + counts.failed;
    onSettled?.(settled);
    if (settled === n) done();
  };
  for (let i = 0; i < n; i++) {
    if (!client.dispatch(payload(base + i), settle)) {
      await client.waitForCapacity();
      if (!client.dispatch(payload(base + i), settle)) throw new Error('dispatch refused after waitForCapacity');
    }
  }
  await all;
  return counts;
}

/** The driver of an API: `'send'` ({@link driveQueue}, a promise per message) or `'dispatch'` ({@link driveDispatch}). */
export const driverFor = (api) => {
  if (api === undefined || api === 'send') return driveQueue;
  if (api === 'dispatch') return driveDispatch;
  throw new Error(`unknown api ${api}: send or dispatch`);
};
