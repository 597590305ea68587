/**
 * Runs `lib/slixmpp_ccs.py` (a CCS app server written with Debian's python3-slixmpp) as a child
 * process of the test, bounded in time, and reads its one-line JSON result.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Debian's interpreter: another python3 earlier on PATH (pyenv, venv) does not see Debian's packages. */
export const DEBIAN_PYTHON = '/usr/bin/python3';
// dist/lib/slixmpp.js → ../../lib/slixmpp_ccs.py (tsc does not copy the script into dist).
const SCRIPT = fileURLToPath(new URL('../../lib/slixmpp_ccs.py', import.meta.url));

export type SlixmppAvailability = { available: true; version: string } | { available: false; reason: string };

/** Whether Debian's python3 can import slixmpp (scripts/setup-slixmpp.sh installs it). */
export function slixmppAvailability(): SlixmppAvailability {
  const r = spawnSync(DEBIAN_PYTHON, ['-c', 'import slixmpp; print(slixmpp.__version__)'], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return { available: false, reason: `${DEBIAN_PYTHON} cannot run (${r.error.message})` };
  if (r.status !== 0) return { available: false, reason: `${DEBIAN_PYTHON} cannot import slixmpp (install the Debian package python3-slixmpp; scripts/setup-slixmpp.sh does it as root)` };
  return { available: true, version: r.stdout.trim() };
}

/** What the script is asked to do (see slixmpp_ccs.py). The password travels in the environment. */
export interface SlixmppConfig {
  port: number;
  caFile: string;
  authcid: string;
  resource?: string;
  serverName?: string;
  downstream: Array<{ message_id: string; to: string; data?: object }>;
  upstreamExpected: number;
  timeoutMs: number;
  expectAuthFailure?: boolean;
  /** Stay connected, doing nothing more, until the server ends the stream (then `closedByServer`). */
  untilServerCloses?: boolean;
}

/** The script's JSON line. */
export interface SlixmppResult {
  ok: boolean;
  jid: string | null;
  auth: 'success' | 'failed' | null;
  authCondition?: string | null;
  acks: Array<{ message_id: string; from: string; registration_id?: string }>;
  nacks: Array<{ message_id: string; from: string; error: string; error_description?: string }>;
  upstream: Array<{ message_id: string; from: string; category: string | null; data: unknown }>;
  other: unknown[];
  /** `control_type` of each control message, in order. */
  control: string[];
  /** The IQ answers slixmpp wrote (`result`/`error`; `condition` for an error), in order. */
  iqAnswers: Array<{ id: string; type: 'result' | 'error'; condition: string | null }>;
  /** The server ended the stream (`untilServerCloses`). */
  closedByServer: boolean;
  error: string | null;
}

export interface SlixmppRun {
  result: SlixmppResult;
  stdout: string;
  stderr: string;
  exitCode: number | null;
}

/** Children still running, so an `after` hook can kill them (by pid, ours only). */
const running = new Set<ChildProcess>();

/** Kills (SIGKILL) every script this module started that is still running. */
export function killSlixmppChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Runs the script with `config` and `password`; kills it after `config.timeoutMs` + 5 s (the
 * script bounds itself by `timeoutMs`; this is the backstop). Rejects when no JSON line came.
 */
export function runSlixmpp(config: SlixmppConfig, password: string): Promise<SlixmppRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(DEBIAN_PYTHON, [SCRIPT, JSON.stringify(config)], {
      env: {
        PATH: process.env['PATH'] ?? '/usr/bin:/bin',
        LANG: 'C.UTF-8',
        PYTHONIOENCODING: 'utf-8',
        PYTHONDONTWRITEBYTECODE: '1',
        ...(process.env['SLIX_LOG'] ? { SLIX_LOG: process.env['SLIX_LOG'] } : {}),
        CCS_PASSWORD: password,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 1 << 16) stderr += d;
    });
    const backstop = setTimeout(() => child.kill('SIGKILL'), config.timeoutMs + 5_000);
    child.on('error', (err) => {
      clearTimeout(backstop);
      running.delete(child);
      reject(err);
    });
    child.on('close', (exitCode, signal) => {
      clearTimeout(backstop);
      running.delete(child);
      const line = stdout.split('\n').filter((l) => l.startsWith('{')).pop();
      if (line === undefined) {
        reject(new Error(`slixmpp_ccs.py printed no result (exit ${String(exitCode)}${signal ? `, ${signal}` : ''}); stderr:\n${stderr.slice(-2000)}`));
        return;
      }
      resolve({ result: JSON.parse(line) as SlixmppResult, stdout, stderr, exitCode });
    });
  });
}
