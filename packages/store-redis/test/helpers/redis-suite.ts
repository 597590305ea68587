/**
 * A uvu suite whose tests need a real redis-server (one per suite, started before the first test).
 * Without redis-server the suite says why and its tests are counted: skipped on a developer
 * machine, failed under CI (see `redisRequired`), where they must run.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redisAvailability, redisRequired, startRedis, type RedisServer, type RedisServerOptions } from './redis-server.js';

type Body = (server: RedisServer) => Promise<void> | void;

/** A suite of Redis tests: `test(name, fn)` collects, `run()` registers and runs them. */
export function redisSuite(name: string, options: RedisServerOptions = {}): { test(name: string, fn: Body): void; run(): void } {
  const tests: Array<[string, Body]> = [];
  return {
    test(testName, fn) {
      tests.push([testName, fn]);
    },
    run() {
      const s = suite(name);
      const availability = redisAvailability();
      if (!availability.available) {
        if (redisRequired()) {
          for (const [testName] of tests) s(testName, () => assert.unreachable(`redis unavailable: ${availability.reason}`));
        } else {
          console.log(`redis unavailable: ${availability.reason} — skipping ${tests.length} ${name} tests`);
          for (const [testName] of tests) s.skip(testName);
        }
        s.run();
        return;
      }
      let server: RedisServer | undefined;
      let startError: unknown;
      s.before(async () => {
        try {
          server = await startRedis(options);
        } catch (err) {
          // uvu swallows a throwing before hook: keep the error and let every test report it.
          startError = err;
        }
      });
      s.after(async () => {
        await server?.stop();
      });
      for (const [testName, fn] of tests) {
        s(testName, async () => {
          if (server === undefined) throw startError instanceof Error ? startError : new Error(`redis-server did not start: ${String(startError)}`);
          try {
            await fn(server);
          } catch (err) {
            if (err instanceof Error) err.message += `\n--- redis log (tail) ---\n${server.logTail(10)}`;
            throw err;
          }
        });
      }
      s.run();
    },
  };
}

let senders = 0;
/** A sender id no other test of this process uses (each test gets its own keys). */
export function uniqueSender(): string {
  return `${process.pid}${String(++senders).padStart(4, '0')}${Date.now() % 100000}`;
}

/** Waits until `check()` is true, polling every 10 ms; throws after `timeoutMs` with `what`. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  if (process.env['DEBUG_UNTIL']) console.error(`${new Date().toISOString()} waiting: ${what}`);
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
