#!/usr/bin/env node
// `npm start` (after the build): the echo app server demo against the embedded CCS emulator.
// Flags: `npm start -- --help`. The logic (and its tests) live in packages/demo.
import { runDemoCli } from '@ccs-xmpp/demo';

const controller = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => controller.abort());
process.exitCode = await runDemoCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
