// `npm start -- --console`: the console's URL comes first, and the emulator and its console stay
// up after the summary until the signal, then close.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseDemoArgs, runDemo } from '../src/index.js';
import { Collect } from './helpers.js';

test('--console serves the console during the run and keeps it (and the emulator) up after the summary until the signal', async () => {
  assert.is(parseDemoArgs(['--console'])?.console, true);
  const out = new Collect();
  const ac = new AbortController();
  const run = runDemo({
    devices: 5, messages: 50, rate: 500, seed: 2, connections: 1, console: true, signal: ac.signal,
    faults: { drainAt: false, cutAt: false, rateLimit: false },
  }, { out });
  const deadline = Date.now() + 60_000;
  while (!/stay up at/.test(out.text) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  const url = /^console: (http:\/\/127\.0\.0\.1:\d+)\/$/m.exec(out.text)?.[1];
  assert.ok(url, out.text);
  assert.ok(out.text.indexOf('console: ') < out.text.indexOf('stay up at'), 'the URL is printed before the run');
  // After the summary: still there, with the run's totals.
  const status = await (await fetch(`${url}/api/status`)).json() as { state: string; totals: { upstreamInjected: number } };
  assert.is(status.state, 'running');
  assert.is(status.totals.upstreamInjected, 50);
  assert.match(await (await fetch(`${url}/`)).text(), /CCS emulator/);
  ac.abort();
  const summary = await run;
  assert.is(summary.lost, 0);
  const after = await fetch(`${url}/api/status`).then(() => 'answered', () => 'refused');
  assert.is(after, 'refused');
});

test.run();
