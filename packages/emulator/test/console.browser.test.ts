// The web console in a real browser (headless Chromium via playwright-core): it shows a client's
// connection, its counters move, the inject form reaches the client, a fault switch makes the
// client get NACKs, and a drain button drains. Everything on the page comes over the SSE stream.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Page } from 'playwright-core';
import { CcsEmulator } from '../src/index.js';
import { browserUnavailable, launchBrowser } from './helpers/browser.js';
import { TestClient, until } from './helpers/client.js';

const why = browserUnavailable();
let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
let emu: CcsEmulator;
let page: Page;

async function openConsole(): Promise<void> {
  emu = new CcsEmulator({ port: 0, seed: 8, adminPort: 0, devices: 2 });
  await emu.start();
  page = await (browser as NonNullable<typeof browser>).context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') errors.push(msg.text());
  });
  await page.goto(`${emu.adminUrl}/`);
  await page.waitForSelector('#stream.ok', { timeout: 30_000 });
  // The first snapshot has been drawn (it fills the sender list).
  await page.waitForSelector('#inject-sender option', { state: 'attached', timeout: 10_000 });
  assert.equal(errors, [], 'no script error');
}

async function closeConsole(): Promise<void> {
  await page.close();
  await emu.stop();
}

const text = (selector: string): Promise<string> => page.locator(selector).innerText();

/** Polls an element's text until `pred` holds (the page updates from the SSE stream, about once a second). */
async function waitText(selector: string, pred: (t: string) => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    last = await page.locator(selector).innerText().catch(() => '');
    if (pred(last)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${selector}: text ${JSON.stringify(last)} after ${timeoutMs} ms`);
}

const TESTS: Array<[string, () => Promise<void>]> = [
  ['the console shows a connection appear when a client connects, and its counters move', async () => {
    await openConsole();
    try {
      assert.is(await text('#connection-count'), '0');
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
      const id = emu.connections()[0]!.id;
      await page.waitForSelector(`#connections tr[data-id="${id}"] td.state-ready`, { timeout: 10_000 });
      for (let i = 0; i < 3; i++) await c.request({ to: emu.deviceTokens('1234567890')[0]!, message_id: `b-${i}` });
      await waitText('#counter-downstreamDelivered', (t) => t === '3');
      await waitText('#lost', (t) => t.includes('nothing lost'));
      await page.waitForSelector('#events li.ack', { timeout: 10_000 });
      await c.close();
      await page.waitForSelector(`#connections tr[data-id="${id}"]`, { state: 'detached', timeout: 10_000 });
    } finally {
      await closeConsole();
    }
  }],
  ['injecting upstream from the form reaches the client', async () => {
    await openConsole();
    try {
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca, autoAck: true });
      await page.fill('#inject-from', 'console-phone');
      await page.fill('#inject-id', 'from-the-form');
      await page.fill('#inject-data', '{"typed":"in the browser"}');
      // Waiting first: an auto-ACKed stanza that arrived earlier is no longer offered to waiters.
      const arrived = c.waitGcm((x) => x.kind === 'upstream', 10_000);
      await page.click('#inject-send');
      const m = await arrived;
      assert.ok(m.kind === 'upstream');
      assert.is(m.from, 'console-phone');
      assert.is(m.messageId, 'from-the-form');
      assert.equal(m.data, { typed: 'in the browser' });
      await waitText('#inject-result', (t) => t === 'queued from-the-form');
      await waitText('#counter-upstreamAcked', (t) => t === '1');
      // A bad field is shown, not sent.
      await page.fill('#inject-data', '{not json');
      await page.click('#inject-send');
      await page.waitForSelector('#inject-result.error', { timeout: 5000 });
      await c.close();
    } finally {
      await closeConsole();
    }
  }],
  ['flipping a fault switch makes the client get NACKs, and the console counts them', async () => {
    await openConsole();
    try {
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
      await page.fill('#fault-serviceUnavailableRate-value', '1');
      await page.check('#fault-serviceUnavailableRate');
      await until(() => emu.faults()?.serviceUnavailableRate === 1, 10_000, 'the fault to reach the emulator');
      const nack = await c.request({ to: 'tok', message_id: 'n-1' });
      assert.ok(nack.kind === 'nack' && nack.error.code === 'SERVICE_UNAVAILABLE');
      await waitText('#counter-nackedTotal', (t) => t === '1');
      await page.waitForSelector('#events li.nack', { timeout: 10_000 });
      await page.uncheck('#fault-serviceUnavailableRate');
      await until(() => emu.faults()?.serviceUnavailableRate === undefined, 10_000, 'the fault to be cleared');
      assert.is((await c.request({ to: 'tok', message_id: 'n-2' })).kind, 'ack');
      await c.close();
    } finally {
      await closeConsole();
    }
  }],
  ['a connection\'s drain button drains it, and a device added in the form refuses messages', async () => {
    await openConsole();
    try {
      await page.fill('#device-token', 'gone-phone');
      await page.selectOption('#device-state', 'unregistered');
      await page.click('#add-device button');
      await page.waitForSelector('#devices tr[data-token="gone-phone"]', { timeout: 10_000 });
      const c = await TestClient.connect({ port: emu.port, ca: emu.ca });
      const refused = await c.request({ to: 'gone-phone', message_id: 'd-1' });
      assert.ok(refused.kind === 'nack' && refused.error.code === 'DEVICE_UNREGISTERED');
      const id = emu.connections()[0]!.id;
      await page.click(`#connections tr[data-id="${id}"] button[data-drain]`, { timeout: 10_000 });
      await c.closed;
      assert.is(emu.connections().length, 0);
    } finally {
      await closeConsole();
    }
  }],
];

if (why === undefined) {
  test.before(async () => {
    browser = await launchBrowser();
  });
  test.after(async () => {
    await browser?.close();
  });
  for (const [name, fn] of TESTS) test(name, fn);
} else {
  console.log(`chromium unavailable: ${why} — skipping ${TESTS.length} console browser tests`);
  for (const [name, fn] of TESTS) test.skip(name, fn);
}

test.run();
