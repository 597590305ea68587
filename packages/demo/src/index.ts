/**
 * `@ccs-xmpp/demo`: what `npm start` runs — the echo app server on `@ccs-xmpp/ccs` against an
 * embedded `@ccs-xmpp/emulator`, with live progress and a summary checked against the ledger.
 * @packageDocumentation
 */
export { runDemo, type DemoOptions, type DemoFaults, type DemoIo, type DemoSummary, type NackCount } from './run-demo.js';
export { runDemoCli, parseDemoArgs, DemoUsageError, DEMO_USAGE, DEMO_EXIT_OK, DEMO_EXIT_FAILED, DEMO_EXIT_USAGE, type DemoCliIo } from './command.js';
export { Progress, statusLine, type DemoOutput, type ProgressSnapshot } from './progress.js';
export { formatSummary, percentile } from './summary.js';
