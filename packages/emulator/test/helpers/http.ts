// HTTP and SSE helpers for the admin API tests: plain fetch, and a small Server-Sent Events reader
// over node:http (the format is text: `event:`/`data:` lines, a blank line ends an event).
import * as http from 'node:http';

export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Headers;
}

/** One request; JSON body in and out. */
export async function api(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  // POST and PUT always say JSON (the API refuses them otherwise, which is what stops cross-site posts).
  const json = body !== undefined || method === 'POST' || method === 'PUT';
  const init: RequestInit = { method, headers: { ...(json ? { 'content-type': 'application/json' } : {}), ...headers } };
  if (body !== undefined) init.body = typeof body === 'string' ? body : JSON.stringify(body);
  const res = await fetch(base + path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (the console's HTML)
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export interface SseEvent {
  event: string;
  data: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** An open event stream that collects what arrives. */
export class SseStream {
  readonly events: SseEvent[] = [];
  #req: http.ClientRequest | undefined;
  #waiters: Array<() => void> = [];

  static open(url: string): Promise<SseStream> {
    const s = new SseStream();
    return new Promise((resolve, reject) => {
      s.#req = http.get(url, (res) => {
        if (res.statusCode !== 200) {
          reject(new Error(`SSE ${url}: HTTP ${res.statusCode}`));
          res.resume();
          return;
        }
        res.setEncoding('utf8');
        let buf = '';
        res.on('data', (chunk: string) => {
          buf += chunk;
          let end: number;
          while ((end = buf.indexOf('\n\n')) !== -1) {
            const block = buf.slice(0, end);
            buf = buf.slice(end + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0) s.events.push({ event, data: JSON.parse(data.join('\n')) });
            for (const w of s.#waiters.splice(0)) w();
          }
        });
        resolve(s);
      });
      s.#req.on('error', reject);
    });
  }

  /** The first event (from the start) matching `pred`, now or within `timeoutMs`. */
  async waitFor(pred: (e: SseEvent) => boolean, timeoutMs = 5000): Promise<SseEvent> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find(pred);
      if (hit) return hit;
      const left = end - Date.now();
      if (left <= 0) throw new Error(`no matching SSE event within ${timeoutMs} ms; got ${this.events.map((e) => e.event === 'message' ? e.data.type : e.event).join(',')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.#req?.destroy();
  }
}
