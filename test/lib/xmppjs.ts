/**
 * Helpers for driving `@xmpp/client` 0.14 (a third-party XMPP client) against the CCS emulator in
 * the interop suite: TLS trust injected at the socket level (the client has no TLS options), a
 * guard for the unhandled rejection its `start()` can leave behind, and a `<gcm>` inbox to wait on.
 */
import { createRequire } from 'node:module';
import type * as TlsModule from 'node:tls';
import type { Client, Element } from '@xmpp/client';

const NS_GCM = 'google:mobile:data';

// The mutable CommonJS exports object of node:tls: the one `@xmpp/tls` calls `tls.connect` on
// (its `import tls from "node:tls"` is this object). An ESM namespace import could not be patched.
const tls = createRequire(import.meta.url)('node:tls') as typeof TlsModule;

/**
 * Makes `tls.connect` trust `ca` (servername `localhost`) for connections to 127.0.0.1:`port`
 * only — everything else passes through untouched — until the returned function restores it.
 * `@xmpp/client` calls `tls.connect({ host, port })` and offers no way to pass a CA.
 */
export function trustEmulatorTls(port: number, ca: string): () => void {
  const original = tls.connect;
  const patched = function connect(this: unknown, ...args: unknown[]): TlsModule.TLSSocket {
    const [opts] = args;
    if (typeof opts === 'object' && opts !== null) {
      const o = opts as TlsModule.ConnectionOptions;
      if (Number(o.port) === port && o.host === '127.0.0.1') {
        args[0] = { ...o, ca, servername: 'localhost' };
      }
    }
    return (original as (...a: unknown[]) => TlsModule.TLSSocket).apply(tls, args);
  };
  (tls as { connect: typeof tls.connect }).connect = patched as typeof tls.connect;
  return () => {
    if (tls.connect === (patched as unknown)) (tls as { connect: typeof tls.connect }).connect = original;
  };
}

/**
 * `@xmpp/connection` 0.14's `start()` creates `promise(this, "online")` and then awaits `open()`,
 * which registers its `"open"` listener only after the header write's callback. When the server's
 * header (and the SASL exchange) beats that callback, a SASL failure rejects both, `start()`
 * rejects with the `open()` one, and the `"online"` promise is rejected with no handler: an
 * unhandled rejection, which ends a Node process by default. This collects those (same error as
 * the one `start()` threw) while installed, and rethrows anything else, as Node would.
 */
export function captureStrayXmppjsRejections(): { stray: Error[]; restore: () => void } {
  const stray: Error[] = [];
  const onRejection = (reason: unknown): void => {
    if (reason instanceof Error && (reason.name === 'SASLError' || reason.name === 'InvalidCharacterError')) {
      stray.push(reason);
      return;
    }
    throw reason;
  };
  process.on('unhandledRejection', onRejection);
  return { stray, restore: () => void process.removeListener('unhandledRejection', onRejection) };
}

/** The JSON of a `<message><gcm xmlns="google:mobile:data">` stanza, or undefined. */
export function gcmJson(el: Element): Record<string, unknown> | undefined {
  if (el.name !== 'message') return undefined;
  const gcm = el.getChild('gcm', NS_GCM);
  if (gcm === undefined) return undefined;
  return JSON.parse(gcm.text()) as Record<string, unknown>;
}

/** Collects every `<gcm>` payload a client receives; `until` waits (bounded) for a condition on them. */
export class GcmInbox {
  readonly messages: Array<Record<string, unknown>> = [];
  #wake: (() => void) | undefined;

  constructor(client: Client) {
    client.on('stanza', (el: Element) => {
      const json = gcmJson(el);
      if (json === undefined) return;
      this.messages.push(json);
      this.#wake?.();
    });
  }

  /** Payloads whose `message_type` is `type` (`undefined` = upstream from a device). */
  ofType(type: string | undefined): Array<Record<string, unknown>> {
    return this.messages.filter((m) => m['message_type'] === type);
  }

  /** Resolves once `done()` holds (re-checked on each arrival); rejects after `timeoutMs`. */
  until(done: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
    return new Promise((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => {
        this.#wake = undefined;
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.messages)}`));
      }, timeoutMs);
      this.#wake = () => {
        if (!done()) return;
        this.#wake = undefined;
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** `<message id=ID><gcm xmlns="google:mobile:data">JSON</gcm></message>`, built with the client's own `xml()`. */
export function gcmStanza(xml: typeof import('@xmpp/client').xml, id: string, payload: object): Element {
  return xml('message', { id }, xml('gcm', { xmlns: NS_GCM }, JSON.stringify(payload)));
}

/**
 * Stops a client whatever state it is in: `stop()` (stream close, then socket), bounded; then the
 * node socket is destroyed if it is somehow still there. Never throws.
 */
export async function stopClient(client: Client, timeoutMs = 3_000): Promise<void> {
  client.reconnect.stop();
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.stop().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  client.socket?.socket?.destroy();
}
