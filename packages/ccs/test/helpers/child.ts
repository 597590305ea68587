// Runs a script as a real child process and follows its JSON lines: for the guarantees that are
// about the process itself (it stays alive while there is work, it stops on a signal, its heap).
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface Child {
  proc: ChildProcess;
  /** Parsed JSON lines of stdout so far. */
  lines: Array<Record<string, unknown>>;
  stderr(): string;
  /** Resolves with the first line (already seen or coming) for which `pred` holds. */
  waitLine(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Resolves once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>;
}

/** The client fixture (dist/test/fixtures/client-child.js). */
export const CLIENT_CHILD = fileURLToPath(new URL('../fixtures/client-child.js', import.meta.url));
/** The `ccs` CLI entry point (dist/src/cli.js). */
export const CCS_CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

/**
 * Spawns `node [execArgv] script ...args`. Killed with SIGKILL after `killAfterMs` (a hung child
 * then shows as `signal: 'SIGKILL'`), so a test never hangs on it.
 */
export function spawnChild(script: string, args: string[], env: Record<string, string>, opts: { execArgv?: string[]; killAfterMs?: number } = {}): Child {
  const t0 = Date.now();
  const proc = spawn(process.execPath, [...(opts.execArgv ?? []), script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }> = [];
  let buf = '';
  let err = '';
  proc.stdout?.setEncoding('utf8');
  proc.stdout?.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i !== -1; i = buf.indexOf('\n')) {
      const text = buf.slice(0, i);
      buf = buf.slice(i + 1);
      let l: Record<string, unknown>;
      try {
        l = JSON.parse(text) as Record<string, unknown>;
      } catch {
        l = { raw: text };
      }
      lines.push(l);
      for (const w of waiters.splice(0)) {
        if (w.pred(l)) w.resolve(l);
        else waiters.push(w);
      }
    }
  });
  proc.stderr?.setEncoding('utf8');
  proc.stderr?.on('data', (d: string) => {
    err += d;
  });
  const killer = setTimeout(() => proc.kill('SIGKILL'), opts.killAfterMs ?? 20_000);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; ms: number }>((resolve) => {
    proc.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, ms: Date.now() - t0 });
    });
  });
  let ended = false;
  void exited.then(() => {
    ended = true;
  });
  return {
    proc,
    lines,
    stderr: () => err,
    exited,
    waitLine(pred, timeoutMs = 10_000) {
      const seen = lines.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no matching line within ${timeoutMs} ms; lines: ${JSON.stringify(lines)}; exited: ${ended}; stderr: ${err.slice(0, 500)}`)), timeoutMs);
        waiters.push({ pred, resolve: (l) => {
          clearTimeout(timer);
          resolve(l);
        } });
        void exited.then(() => {
          setTimeout(() => {
            clearTimeout(timer);
            reject(new Error(`the child exited before a matching line; lines: ${JSON.stringify(lines)}; stderr: ${err.slice(0, 500)}`));
          }, 50);
        });
      });
    },
  };
}
