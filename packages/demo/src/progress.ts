/**
 * Live progress on the terminal without a flood of lines: on a TTY one status line redrawn in
 * place (`\r` + erase line) at most every `intervalMs`; otherwise (CI logs, pipes) one plain line
 * every few seconds. Rare events (a drain, a cut) are printed as their own lines above it.
 */

/** Where the demo writes: `process.stdout` or anything with `write`. */
export interface DemoOutput {
  write(s: string): unknown;
  /** Redraw one status line in place when true. */
  isTTY?: boolean;
  /** Terminal width; the status line is cut to fit so that `\r` redraws the same row. */
  columns?: number;
}

/** The numbers one status line shows. */
export interface ProgressSnapshot {
  elapsedMs: number;
  injected: number;
  total: number;
  upstreamAcked: number;
  echoesSent: number;
  echoesAcked: number;
  echoesNacked: number;
  /** Upstream messages ACKed per second, recently. */
  rate: number;
  online: number;
  draining: number;
  reconnects: number;
}

const CLEAR = '\r\u001b[2K';
const BAR = 12;

/** Seconds with one decimal, right-aligned, e.g. ` 12.3s`. */
export function formatElapsed(ms: number): string {
  return `${(ms / 1000).toFixed(1).padStart(5)}s`;
}

/**
 * Renders a snapshot as one line: in words for logs; compact on a TTY, with a bar when the
 * terminal is wide enough (100 columns or unknown) — an 80-column one gets the numbers only.
 */
export function statusLine(s: ProgressSnapshot, tty: boolean, columns?: number): string {
  if (!tty) {
    const conns = `${s.online} conn${s.draining > 0 ? ` (${s.draining} draining)` : ''}`;
    return `[${formatElapsed(s.elapsedMs)}] up ${s.injected}/${s.total} ACKed ${s.upstreamAcked} | echoes ${s.echoesSent} sent ${s.echoesAcked} ACK ${s.echoesNacked} NACK | ${Math.round(s.rate)}/s | ${conns} | reconnects ${s.reconnects}`;
  }
  const settled = s.echoesAcked + s.echoesNacked;
  const frac = s.total > 0 ? Math.min(1, settled / s.total) : 1;
  const filled = Math.round(frac * BAR);
  const bar = columns === undefined || columns >= 100 ? ` [${'#'.repeat(filled)}${'.'.repeat(BAR - filled)}]` : '';
  const conns = `conns ${s.online}${s.draining > 0 ? ` (${s.draining} draining)` : ''}`;
  return `${formatElapsed(s.elapsedMs)}${bar} ${String(Math.floor(frac * 100)).padStart(3)}%  up ${s.upstreamAcked}/${s.total}  echoes ${s.echoesAcked} ACK ${s.echoesNacked} NACK  ${Math.round(s.rate)}/s  ${conns}  reconnects ${s.reconnects}`;
}

/** The status line (TTY) or the periodic progress lines (not a TTY). */
export class Progress {
  readonly #out: DemoOutput;
  readonly #tty: boolean;
  readonly #intervalMs: number;
  #lastDraw = -Infinity;
  #line = '';

  constructor(out: DemoOutput, intervalMs?: number) {
    this.#out = out;
    this.#tty = out.isTTY === true;
    this.#intervalMs = intervalMs ?? (this.#tty ? 100 : 2000);
  }

  /** Draws the snapshot if the last draw is at least `intervalMs` old (or `force`). */
  update(s: ProgressSnapshot, force = false): void {
    if (!force && s.elapsedMs - this.#lastDraw < this.#intervalMs) return;
    this.#lastDraw = s.elapsedMs;
    const line = this.#fit(statusLine(s, this.#tty, this.#out.columns));
    if (this.#tty) {
      this.#line = line;
      this.#out.write(`${CLEAR}${line}`);
    } else this.#out.write(`${line}\n`);
  }

  /** Prints an event line; on a TTY above the status line, which is then redrawn. */
  event(elapsedMs: number, text: string): void {
    const line = `[${formatElapsed(elapsedMs)}] ${text}`;
    if (this.#tty) this.#out.write(`${CLEAR}${line}\n${this.#line}`);
    else this.#out.write(`${line}\n`);
  }

  /** Ends the status line so that what follows starts on a fresh row. */
  finish(s: ProgressSnapshot): void {
    this.update(s, true);
    if (this.#tty) this.#out.write('\n');
  }

  #fit(line: string): string {
    const cols = this.#out.columns;
    return this.#tty && cols !== undefined && cols > 1 && line.length > cols - 1 ? line.slice(0, cols - 1) : line;
  }
}
