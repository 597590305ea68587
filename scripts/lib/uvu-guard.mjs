// uvu with a deadline per test and faults attributed to the test that was running.
//
// scripts/run-uvu.mjs registers scripts/lib/uvu-hooks.mjs, which resolves every `import … from 'uvu'`
// of a test file to this module, so test files stay plain uvu. uvu itself has no timeout and lets an
// unhandled rejection end the process; here every test and hook runs inside `guard()`:
//
// - Deadline: TEST_TIMEOUT_MS (default 60 s, 10 min under FUZZ=1), or `timeoutMs` set on the handler:
//   `test('name', Object.assign(async () => { … }, { timeoutMs: 120_000 }))`. When it passes, the test
//   fails by name with what of its own is still open (sockets, servers, child processes, timers and
//   where they were set); those are then destroyed, killed and cleared, so the rest of the run goes on.
//   "Its own" = created while it ran: sockets/servers/processes from the difference of
//   process._getActiveHandles() (undocumented but present since Node 0.x, and public handle objects) and
//   timers from wrapping setTimeout/setInterval. async_hooks would see more, but an init hook turns on
//   V8's promise hooks for every promise of the suite.
// - Faults: an unhandled rejection or uncaught exception while a test (or hook) runs fails that test,
//   with the reason and its stack. A test that installs its own listener for the event handles it
//   itself (we stand aside while another listener is present). A fault outside any test is a failure
//   of its own ("stray"), counted by run-uvu.mjs so `N passed, N failed` stays exact.
// - A test ends one macrotask after its handler settles, so a rejection left unhandled by its last
//   tick is still its own and not the next test's.
import * as uvu from 'uvu';
import timers from 'node:timers';
import { syncBuiltinESMExports } from 'node:module';
import { inspect } from 'node:util';
import { ChildProcess } from 'node:child_process';
import net from 'node:net';

const FUZZ = process.env.FUZZ === '1';
/** The deadline of a test that sets no `timeoutMs` of its own. */
export const defaultTimeoutMs = Number(process.env.TEST_TIMEOUT_MS ?? (FUZZ ? 600_000 : 60_000));
/** How long a timed-out test's fallout (errors of what was destroyed) is still attributed to it. */
const FALLOUT_MS = 200;
/** A faulted test whose handler is still pending gets this long to run its own `finally` blocks. */
const FAULT_GRACE_MS = 1_000;

const real = {
  setTimeout: timers.setTimeout,
  setInterval: timers.setInterval,
  clearTimeout: timers.clearTimeout,
};

/** @type {Run | null} the test or hook running now */
let current = null;
let currentFile = '';
let loading = true;
let lastLabel = '';
/** Failures that belong to no test: faults between tests, after-hooks that threw. */
export const strays = { count: 0 };

/**
 * @typedef {{ ref: WeakRef<NodeJS.Timeout>, ms: number, kind: string, site: { stack?: string } }} TimerRecord
 * @typedef {{ label: string, file: string, handlesBefore: Set<unknown>, timers: TimerRecord[],
 *   fault: Error | null, onFault: ((err: Error) => void) | null, extraFaults: number }} Run
 */

/** Lets run-uvu.mjs name the file being imported (`loading`) or whose suites are running. */
export function setCurrentFile(file, isLoading = false) {
  currentFile = file;
  loading = isLoading;
}

// --- timers ------------------------------------------------------------------------------------

function trackTimer(t, ms, kind) {
  const run = current;
  if (run === null) return;
  const site = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 6;
  Error.captureStackTrace(site, kind === 'setInterval' ? wrappedSetInterval : wrappedSetTimeout);
  Error.stackTraceLimit = limit;
  run.timers.push({ ref: new WeakRef(t), ms, kind, site });
  // A test that sets many short timers must not keep a record of each: drop fired ones now and then.
  if (run.timers.length > 4096 && (run.timers.length & 1023) === 0) {
    run.timers = run.timers.filter((r) => {
      const x = r.ref.deref();
      return x !== undefined && !x._destroyed;
    });
  }
}

function wrappedSetTimeout(fn, ms, ...args) {
  const t = real.setTimeout(fn, ms, ...args);
  trackTimer(t, ms, 'setTimeout');
  return t;
}
function wrappedSetInterval(fn, ms, ...args) {
  const t = real.setInterval(fn, ms, ...args);
  trackTimer(t, ms, 'setInterval');
  return t;
}
for (const [wrapped, original] of [
  [wrappedSetTimeout, real.setTimeout],
  [wrappedSetInterval, real.setInterval],
]) {
  for (const key of Reflect.ownKeys(original)) {
    if (!(key in wrapped)) Object.defineProperty(wrapped, key, Object.getOwnPropertyDescriptor(original, key));
  }
}
globalThis.setTimeout = wrappedSetTimeout;
globalThis.setInterval = wrappedSetInterval;
timers.setTimeout = wrappedSetTimeout;
timers.setInterval = wrappedSetInterval;
syncBuiltinESMExports();

// --- what a test left open -----------------------------------------------------------------------

const activeHandles = () => (typeof process._getActiveHandles === 'function' ? process._getActiveHandles() : []);
const STDIO = new Set([process.stdin, process.stdout, process.stderr].filter(Boolean));

/** Where a timer was set: the first frame outside node internals. */
function siteOf(rec) {
  const lines = (rec.site.stack ?? '').split('\n').slice(1);
  const frame = lines.find((l) => !l.includes('node:') && !l.includes('uvu-guard')) ?? lines[0] ?? '';
  return frame.trim().replace(/^at /, '').replace(/^.*?\(/, '').replace(/\)$/, '').replace(/^file:\/\//, '').replace(`${process.cwd()}/`, '');
}

function describeHandle(h) {
  if (h instanceof ChildProcess) return `child process pid ${h.pid} (${(h.spawnargs ?? []).join(' ').slice(0, 80)})`;
  if (h instanceof net.Server) {
    const a = h.address();
    return `${h.constructor.name} listening on ${typeof a === 'string' ? a : a ? `${a.address}:${a.port}` : '?'}`;
  }
  if (h instanceof net.Socket) {
    if (h.remotePort === undefined) return `${h.constructor.name} (pipe)`;
    return `${h.constructor.name} ${h.localAddress}:${h.localPort} → ${h.remoteAddress}:${h.remotePort} (read ${h.bytesRead} B, wrote ${h.bytesWritten} B)`;
  }
  return h?.constructor?.name ?? typeof h;
}

/** The handles and live timers `run` created, described and counted. */
function leftovers(run) {
  const handles = activeHandles().filter((h) => !run.handlesBefore.has(h) && !STDIO.has(h));
  const liveTimers = [];
  for (const r of run.timers) {
    const t = r.ref.deref();
    if (t !== undefined && !t._destroyed) liveTimers.push([t, r]);
  }
  const counts = new Map();
  const add = (d) => counts.set(d, (counts.get(d) ?? 0) + 1);
  for (const h of handles) add(describeHandle(h));
  for (const [, r] of liveTimers) add(`${r.kind}(${r.ms} ms) set at ${siteOf(r)}`);
  const text = [...counts].map(([d, n]) => (n > 1 ? `${n} × ${d}` : d)).join('; ');
  return { handles, liveTimers, text };
}

/** Ends what a test left behind: kills its processes, destroys its sockets, closes its servers. */
function release({ handles, liveTimers }) {
  for (const [t] of liveTimers) real.clearTimeout(t);
  for (const h of handles) {
    try {
      if (h instanceof ChildProcess) h.kill('SIGKILL');
      else if (h instanceof net.Server) h.close();
      else if (typeof h?.destroy === 'function') h.destroy();
      else if (typeof h?.close === 'function') h.close();
    } catch {
      // Best effort: a handle that refuses to close is reported in the message already.
    }
  }
}

// --- faults --------------------------------------------------------------------------------------

function asError(value) {
  return value instanceof Error ? value : new Error(`a non-Error value: ${inspect(value, { depth: 2 })}`);
}

/** An error whose message names the fault and whose stack is the reason's (uvu prints both). */
function faultError(what, reason) {
  const r = asError(reason);
  const err = new Error(`${what}: ${r.name}: ${String(r.message).split('\n')[0]}`);
  err.stack = `${err.message}\n${(r.stack ?? '').split('\n').slice(1).join('\n')}`;
  err.cause = reason;
  return err;
}

/** Counts and prints a failure that belongs to no test. */
export function reportStray(what, reason) {
  strays.count++;
  process.stdout.write(`\n  ✘ ${what}:\n    ${inspect(reason)}\n`);
}

function onFault(what, reason) {
  const run = current;
  if (run === null) {
    const where = loading
      ? `while the test files were imported, at ${currentFile || 'the start'}`
      : `${currentFile}, ${lastLabel ? `after the ${lastLabel}` : 'before any test'}`;
    reportStray(`${what} outside any test (${where})`, reason);
    return;
  }
  if (run.fault !== null) {
    run.extraFaults++;
    process.stdout.write(`\n  (${run.label} also had ${what}: ${asError(reason).message})\n`);
    return;
  }
  run.fault = faultError(what, reason);
  run.onFault?.(run.fault);
}

// A test that listens for these events itself (to collect expected strays) handles them: we only act
// when ours is the sole listener.
process.on('unhandledRejection', (reason) => {
  if (process.listenerCount('unhandledRejection') > 1) return;
  onFault('unhandled rejection', reason);
});
process.on('uncaughtException', (err) => {
  if (process.listenerCount('uncaughtException') > 1) return;
  onFault('uncaught exception', err);
});

// --- the guard -----------------------------------------------------------------------------------

const sleep = (ms) => new Promise((resolve) => real.setTimeout(resolve, ms));
const macrotask = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Wraps a test or hook handler: a deadline, fault attribution, and release of what a timed-out test
 * left open. `kind` is 'test', 'before', 'after', 'before.each' or 'after.each'.
 */
function guard(kind, suiteName, name, handler) {
  if (typeof handler !== 'function') return handler;
  const ms = Number(handler.timeoutMs ?? defaultTimeoutMs);
  const own = handler.timeoutMs !== undefined;
  return async function guarded(state) {
    const label = `${kind === 'test' ? 'test' : `${kind} hook`}${suiteName ? ` of suite "${suiteName}"` : ''}${name ? ` "${name}"` : ''}`;
    /** @type {Run} */
    const run = { label, file: currentFile, handlesBefore: new Set(activeHandles()), timers: [], fault: null, onFault: null, extraFaults: 0 };
    const previous = current;
    current = run;
    let deadline;
    let settled = false;
    const body = Promise.resolve()
      .then(() => handler(state))
      .finally(() => {
        settled = true;
      });
    try {
      const outcome = await Promise.race([
        body.then(() => ({ ok: true }), (err) => ({ ok: false, err })),
        new Promise((resolve) => {
          deadline = real.setTimeout(() => resolve({ timeout: true }), ms);
        }),
        new Promise((resolve) => {
          run.onFault = (err) => resolve({ fault: err });
        }),
      ]);
      real.clearTimeout(deadline);
      if (outcome.timeout) {
        const left = leftovers(run);
        const open = left.text
          ? `still open from this test: ${left.text}`
          : 'nothing it opened is still open: it awaits a promise that nothing will settle';
        const err = new Error(
          `timed out after ${ms} ms (${own ? 'its own timeoutMs' : 'the default deadline; TEST_TIMEOUT_MS or timeoutMs on the handler change it'}); ${open}`,
        );
        err.stack = err.message;
        release(left);
        await sleep(FALLOUT_MS);
        throw err;
      }
      if (outcome.fault) {
        // Give a handler that is still running a moment to reach its own cleanup, then end the rest.
        if (!settled) await Promise.race([body.catch(() => undefined), sleep(FAULT_GRACE_MS)]);
        if (!settled) {
          release(leftovers(run));
          await sleep(FALLOUT_MS);
        }
        throw outcome.fault;
      }
      if (!outcome.ok) throw asError(outcome.err);
      await macrotask();
      if (run.fault !== null) throw run.fault;
    } catch (err) {
      // Under mutation (scripts/mutation-runner.mjs) the first failure is the verdict: the other
      // tests of the file would each wait out their deadline when a mutant hangs every one of them.
      if (globalThis.UVU_EXIT_AT_FIRST_FAILURE === true) {
        process.stdout.write(`\n  ✘ ${label} (${run.file}): ${asError(err).message}\n`);
        process.exit(1);
      }
      throw err;
    } finally {
      real.clearTimeout(deadline);
      run.onFault = null;
      current = previous;
      lastLabel = label;
    }
  };
}

function wrapTest(base, suiteName) {
  const t = (name, handler) => base(name, guard('test', suiteName, name, handler));
  t.only = (name, handler) => base.only(name, guard('test', suiteName, name, handler));
  t.skip = (...args) => base.skip(...args);
  t.run = () => base.run();
  // uvu swallows an error of a `before` hook (its tests count as failed, silently): say why.
  const before = (handler) =>
    base.before(async (state) => {
      try {
        await guard('before', suiteName, '', handler)(state);
      } catch (err) {
        process.stdout.write(`\n  ✘ before hook${suiteName ? ` of suite "${suiteName}"` : ''} (${currentFile}) failed; its tests did not run:\n    ${asError(err).stack}\n`);
        throw err;
      }
    });
  before.each = (handler) => base.before.each(guard('before.each', suiteName, '', handler));
  // An `after` hook that throws would end uvu's whole run: report it as a failure of its own instead.
  const after = (handler) =>
    base.after(async (state) => {
      try {
        await guard('after', suiteName, '', handler)(state);
      } catch (err) {
        strays.count++;
        process.stdout.write(`\n  ✘ after hook${suiteName ? ` of suite "${suiteName}"` : ''} (${currentFile}) failed:\n    ${asError(err).stack}\n`);
      }
    });
  after.each = (handler) => base.after.each(guard('after.each', suiteName, '', handler));
  t.before = before;
  t.after = after;
  return t;
}

/** uvu's `suite`, guarded. */
export function suite(name = '', state = {}) {
  return wrapTest(uvu.suite(name, state), name);
}

/** uvu's default `test`, guarded. */
export const test = wrapTest(uvu.test, '');

/** uvu's `exec`, unchanged. */
export const exec = uvu.exec;
