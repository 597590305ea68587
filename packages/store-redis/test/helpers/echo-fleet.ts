/**
 * `ccs echo --store redis://…` as real OS processes: spawn, read their JSON lines, SIGKILL or
 * SIGTERM them by pid. Every line a process printed before it died is kept.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CCS_BIN = fileURLToPath(new URL('../../../../ccs/bin/ccs.js', import.meta.url));

/** One line of `ccs echo` output. */
export interface EchoLine {
  event: string;
  message_id?: string;
  data?: Record<string, unknown>;
  adopted?: boolean;
  code?: string;
  [key: string]: unknown;
}

/** A running (or finished) `ccs echo` process. */
export class EchoProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly lines: EchoLine[] = [];
  stderr = '';
  readonly exited: Promise<number | null>;
  #partial = '';

  constructor(name: string, args: string[], env: Record<string, string>) {
    this.name = name;
    this.child = spawn(process.execPath, [CCS_BIN, 'echo', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      const text = this.#partial + chunk;
      const parts = text.split('\n');
      this.#partial = parts.pop() ?? '';
      for (const p of parts) {
        if (p.trim() === '') continue;
        try {
          this.lines.push(JSON.parse(p) as EchoLine);
        } catch {
          this.lines.push({ event: 'unparsed', text: p });
        }
      }
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      if (this.stderr.length < 64 * 1024) this.stderr += chunk;
    });
    this.exited = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
  }

  /** Lines of one event type. */
  events(event: string): EchoLine[] {
    return this.lines.filter((l) => l.event === event);
  }

  /** Sends `signal` by pid (no-op when it already ended). */
  signal(signal: NodeJS.Signals): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }
}
