/**
 * A throwaway redis-server for tests and benchmarks: its own config and data dir under a fresh
 * `ccs-xmpp-redis-*` temp dir, listening on a free 127.0.0.1 port only, started as a child process
 * and stopped by pid. It can be killed (SIGKILL) and started again on the same port and data dir:
 * with `appendonly: true` (fsync always) what it had acknowledged survives the kill.
 * Nothing here reads /etc/redis or touches the system service.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const DIR_PREFIX = 'ccs-xmpp-redis-';
const START_TIMEOUT_MS = 15_000;
const STOP_GRACE_MS = 3_000;
const STALE_DIR_MS = 10 * 60 * 1000;

/** Where redis-server is, or why it cannot be used. */
export type RedisAvailability = { available: true; binary: string } | { available: false; reason: string };

function findExecutable(name: string): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  for (const dir of [...dirs, '/usr/bin', '/usr/local/bin', '/usr/sbin']) {
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Checks (without running anything) whether redis-server is installed (scripts/setup-redis.sh installs it). */
export function redisAvailability(): RedisAvailability {
  if (process.platform === 'win32') return { available: false, reason: 'the Redis harness needs a POSIX system' };
  const binary = findExecutable('redis-server');
  if (binary === undefined) {
    return { available: false, reason: 'redis-server is not installed (scripts/setup-redis.sh installs the Debian package redis-server when run as root with apt-get)' };
  }
  return { available: true, binary };
}

/**
 * True when a test that needs Redis must fail rather than skip without it: under CI (`CI` set)
 * or when `REDIS_REQUIRED=1`. Elsewhere it is skipped, visibly, with the reason.
 */
export function redisRequired(): boolean {
  const ci = process.env['CI'];
  return (ci !== undefined && ci !== '' && ci !== '0' && ci !== 'false') || process.env['REDIS_REQUIRED'] === '1';
}

/** Options of {@link startRedis}. */
export interface RedisServerOptions {
  /** Append-only file with `appendfsync always`, so a kill and restart keep every acknowledged write. Default false (nothing on disk). */
  appendonly?: boolean;
}

/** A running (or killed, restartable) test server. */
export interface RedisServer {
  readonly host: string;
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  /** The temp dir holding config, data and log. */
  readonly dir: string;
  /** The current process id (changes on restart); undefined while down. */
  readonly pid: number | undefined;
  /** SIGKILL now; resolves when the process is gone. The dir and port stay for {@link restart}. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data dir (after {@link kill}). */
  restart(): Promise<void>;
  /** User + system CPU time of the server process so far, in microseconds (from /proc). */
  cpuMicros(): number;
  /** The last lines of the server's log, for failure messages. */
  logTail(lines?: number): string;
  /** SIGTERM (then SIGKILL after a bound) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
let exitHook = false;
function installExitHook(): void {
  if (exitHook) return;
  exitHook = true;
  process.on('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Removes dirs (and kills servers) left by test processes that died without stopping them. */
function reapStale(): void {
  let names: string[];
  try {
    names = readdirSync(tmpdir()).filter((n) => n.startsWith(DIR_PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const dir = join(tmpdir(), name);
    let owner: { pid?: number; server?: number };
    try {
      owner = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as { pid?: number; server?: number };
    } catch {
      try {
        if (Date.now() - statSync(dir).mtimeMs > STALE_DIR_MS) rmSync(dir, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      continue;
    }
    if (typeof owner.pid === 'number' && isAlive(owner.pid)) continue;
    if (typeof owner.server === 'number' && isAlive(owner.server)) {
      try {
        const cmd = readFileSync(`/proc/${owner.server}/cmdline`, 'utf8');
        if (cmd.includes(dir)) process.kill(owner.server, 'SIGKILL');
      } catch {
        // not ours or gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** PING over a raw socket: true when the server answers +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
      if (data.includes('\r\n')) done(data.startsWith('+PONG'));
    });
  });
}

function config(dir: string, port: number, appendonly: boolean): string {
  return [
    '# Generated by packages/store-redis/test/helpers/redis-server.ts for one test run. Loopback only.',
    `port ${port}`,
    'bind 127.0.0.1',
    'protected-mode yes',
    'daemonize no',
    // Keep argv (which names this config file, in our temp dir) as the process title, so the
    // setup script and the stale-dir reaper can tell harness servers from a system one.
    'set-proc-title no',
    `dir ${dir}`,
    `logfile ${join(dir, 'redis.log')}`,
    'loglevel notice',
    'save ""',
    `appendonly ${appendonly ? 'yes' : 'no'}`,
    'appendfsync always',
    'databases 2',
    '',
  ].join('\n');
}

/**
 * Starts a server on a free port (retried on a port race).
 * @throws when redis-server is missing, exits, or does not answer PING within 15 s; the error
 *   carries the log tail.
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const availability = redisAvailability();
  if (!availability.available) throw new Error(availability.reason);
  installExitHook();
  reapStale();
  const dir = mkdtempSync(join(tmpdir(), DIR_PREFIX));
  const appendonly = options.appendonly === true;
  const confFile = join(dir, 'redis.conf');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let port = 0;
  let stopped = false;

  const logTail = (lines = 20): string => {
    try {
      return readFileSync(join(dir, 'redis.log'), 'utf8').split('\n').slice(-lines - 1).join('\n');
    } catch {
      return '(no log)';
    }
  };

  const launch = async (): Promise<boolean> => {
    const proc = spawn(availability.binary, [confFile], { stdio: ['ignore', 'ignore', 'pipe'], cwd: dir });
    child = proc;
    live.add(proc);
    let gone = false;
    exited = new Promise<void>((resolve) => proc.once('close', () => {
      gone = true;
      live.delete(proc);
      resolve();
    }));
    proc.once('error', () => { gone = true; });
    proc.stderr?.resume();
    writeFileSync(join(dir, 'owner.json'), JSON.stringify({ pid: process.pid, server: proc.pid }));
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (gone) return false;
      if (await ping(port)) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    proc.kill('SIGKILL');
    await exited;
    throw new Error(`redis-server did not answer PING within ${START_TIMEOUT_MS} ms\n${logTail()}`);
  };

  let ok = false;
  for (let attempt = 0; attempt < 5 && !ok; attempt++) {
    port = await freePort();
    writeFileSync(confFile, config(dir, port, appendonly));
    ok = await launch();
  }
  if (!ok) {
    const tail = logTail();
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`redis-server exited at start\n${tail}`);
  }

  const server: RedisServer = {
    host: '127.0.0.1',
    get port() { return port; },
    get url() { return `redis://127.0.0.1:${port}`; },
    dir,
    get pid() { return child?.exitCode === null && child.signalCode === null ? child.pid : undefined; },
    async kill() {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async restart() {
      if (stopped) throw new Error('the server was stopped');
      await server.kill();
      // The same port: clients reconnect to the address they know. It was ours a moment ago.
      if (!(await launch())) throw new Error(`redis-server did not restart\n${logTail()}`);
    },
    cpuMicros() {
      const pid = server.pid;
      if (pid === undefined) return 0;
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 of /proc/PID/stat (12 and 13 after the name), in clock ticks (100 Hz on Linux).
      return (Number(fields[11]) + Number(fields[12])) * 10_000;
    },
    logTail,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child && child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = new Promise<void>((r) => setTimeout(r, STOP_GRACE_MS));
        await Promise.race([exited, timer]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        await exited;
      }
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
