// storeTimeoutMs's timer in a real child process: it holds the process only while a store's
// promise is waited for. A closed client is not waiting for anything — a flush that began after
// close() (a handler that outlived close({ timeoutMs })) armed a ref'd 20 s timer that kept the
// process alive, then reported a timeout on a client closed long before.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { CLIENT_CHILD, spawnChild } from './helpers/child.js';
import { startScriptedServer } from './helpers/scripted-server.js';

test('a closed client lets the process exit: a flush that begins after close() is not bounded by a ref\'d timer, and no timeout is reported after the close', async () => {
  const server = await startScriptedServer();
  const c = spawnChild(CLIENT_CHILD, ['store-wait-after-close', String(server.port)], { CHILD_CA: server.ca }, { killAfterMs: 8000 });
  try {
    await c.waitLine((l) => l['event'] === 'online', 10_000);
    await server.until(() => server.conns[0]?.online === true);
    server.conns[0]!.upstream('dev-1', 'u1');
    await c.waitLine((l) => l['event'] === 'closed', 10_000);
    const r = await c.exited;
    assert.is(r.signal, null, `still alive after ${r.ms} ms (killed); ${c.stderr()}`);
    assert.is(r.code, 0, `exit ${r.code}; ${c.stderr()}`);
    assert.equal(c.lines.find((l) => l['event'] === 'exit'), { event: 'exit', errors: [] });
  } finally {
    c.proc.kill('SIGKILL');
    await server.stop();
  }
});

test.run();
