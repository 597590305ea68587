#!/usr/bin/env node
// The `ccs-demo` bin (and what scripts/start.mjs runs): wires the process to runDemoCli.
// SIGINT/SIGTERM stop injecting; what was sent settles and the summary still prints.
import { runDemoCli } from './command.js';

const controller = new AbortController();
const stop = (): void => controller.abort();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
process.exitCode = await runDemoCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, signal: controller.signal });
process.removeListener('SIGINT', stop);
process.removeListener('SIGTERM', stop);
