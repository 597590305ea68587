#!/usr/bin/env node
// Regenerates docs/console.png, the README's picture of the web console: runs the demo
// (`npm start -- --console`, its own process), opens the console in headless Chromium while the
// demo's traffic, NACKs, drain and cut go on, and takes the screenshot mid-run.
//
//   npm run build && node packages/emulator/scripts/screenshot-console.mjs [seconds-into-the-run]
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const out = fileURLToPath(new URL('../docs/console.png', import.meta.url));
const at = Number(process.argv[2] ?? 20);

const demo = spawn(process.execPath, [join(root, 'scripts/start.mjs'), '--console', '--duration', '25', '--rate', '300', '--seed', '7'], {
  cwd: root,
  stdio: ['ignore', 'pipe', 'inherit'],
});
const profile = mkdtempSync(join(tmpdir(), 'ccs-console-shot-'));
let context;
try {
  let url;
  const started = Date.now();
  for await (const line of createInterface({ input: demo.stdout })) {
    const m = /^console: (http\S+)/.exec(line);
    if (m) {
      url = m[1];
      break;
    }
  }
  if (!url) throw new Error('the demo printed no console URL');
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    viewport: { width: 1360, height: 1020 },
  });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('#stream.ok');
  // Seconds into the run (the browser's start-up counts): traffic, a drain and NACKs on the chart.
  await page.waitForTimeout(Math.max(2000, at * 1000 - (Date.now() - started)));
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await context?.close();
  rmSync(profile, { recursive: true, force: true });
  demo.kill('SIGINT');
}
