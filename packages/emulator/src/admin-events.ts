/**
 * `GET /api/events`: the emulator's event stream as Server-Sent Events, filterable by type and
 * connection, plus a `stats` event once a second (the status snapshot the console draws its
 * counters and rate chart from, so that it never polls). Memory stays bounded whatever a client
 * does: each gets at most `MAX_EVENTS_PER_SECOND`, nothing is queued for one that does not read
 * (its socket buffer full), and what was skipped is counted and reported in a `dropped` event.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EmulatorEvent } from './hub.js';
import type { EmulatorStatus } from './status.js';

/** Events per second one client receives at most; the rest are counted as dropped. */
export const MAX_EVENTS_PER_SECOND = 500;

/** What the stream needs of the emulator. */
export interface EventSourceTarget {
  on(name: 'event', listener: (e: EmulatorEvent) => void): unknown;
  off(name: 'event', listener: (e: EmulatorEvent) => void): unknown;
  status(): EmulatorStatus;
}

interface Client {
  res: ServerResponse;
  types: ReadonlySet<string> | undefined;
  connectionId: number | undefined;
  sent: number;
  dropped: number;
  congested: boolean;
}

/** The SSE clients of one admin server. */
export class AdminEvents {
  readonly #target: EventSourceTarget;
  readonly #clients = new Set<Client>();
  #timer: NodeJS.Timeout | undefined;

  constructor(target: EventSourceTarget) {
    this.#target = target;
  }

  /** Open streams. */
  get size(): number {
    return this.#clients.size;
  }

  /** Starts a stream on this response; `types` and `connectionId` filter the emulator's events. */
  open(req: IncomingMessage, res: ServerResponse, types: ReadonlySet<string> | undefined, connectionId: number | undefined): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
    const client: Client = { res, types, connectionId, sent: 0, dropped: 0, congested: false };
    if (this.#clients.size === 0) {
      // Listening makes every connection build its events: only while someone watches.
      this.#target.on('event', this.#onEvent);
      this.#timer = setInterval(this.#tick, 1000).unref();
    }
    this.#clients.add(client);
    res.on('drain', () => (client.congested = false));
    const remove = (): void => {
      if (!this.#clients.delete(client)) return;
      if (this.#clients.size === 0) this.#stopListening();
    };
    req.on('close', remove);
    res.on('close', remove);
    // The first snapshot at once, so a page has something to draw before the first tick.
    this.#write(client, `retry: 1000\nevent: stats\ndata: ${JSON.stringify(this.#target.status())}\n\n`);
  }

  /** Ends every stream (the server is stopping). */
  closeAll(): void {
    for (const c of this.#clients) c.res.end();
    this.#clients.clear();
    this.#stopListening();
  }

  #stopListening(): void {
    this.#target.off('event', this.#onEvent);
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  readonly #onEvent = (e: EmulatorEvent): void => {
    let text: string | undefined;
    for (const c of this.#clients) {
      if (c.types !== undefined && !c.types.has(e.type)) continue;
      if (c.connectionId !== undefined && ('connectionId' in e ? e.connectionId : undefined) !== c.connectionId) continue;
      if (c.congested || c.sent >= MAX_EVENTS_PER_SECOND) {
        c.dropped++;
        continue;
      }
      c.sent++;
      text ??= `data: ${JSON.stringify({ ts: Date.now(), ...e })}\n\n`;
      this.#write(c, text);
    }
  };

  readonly #tick = (): void => {
    const stats = `event: stats\ndata: ${JSON.stringify(this.#target.status())}\n\n`;
    for (const c of this.#clients) {
      c.sent = 0;
      if (c.dropped > 0) {
        this.#write(c, `event: dropped\ndata: ${JSON.stringify({ dropped: c.dropped })}\n\n`);
        c.dropped = 0;
      }
      if (!c.congested) this.#write(c, stats);
    }
  };

  #write(c: Client, text: string): void {
    if (!c.res.write(text)) c.congested = true;
  }
}
