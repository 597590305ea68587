/**
 * The part of `@xmpp/client` 0.14's API the interop suite uses. The package ships no type
 * declarations; this describes its JavaScript as read from node_modules/@xmpp/{client,connection,xml}.
 */
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';

  /** An ltx element (`@xmpp/xml`). */
  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<Element | string>;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildText(name: string, xmlns?: string): string | null;
    text(): string;
    is(name: string, xmlns?: string): boolean;
    toString(): string;
  }

  /** A JID (`@xmpp/jid`). */
  export interface JID {
    local: string;
    domain: string;
    resource: string;
    toString(): string;
  }

  export interface ClientOptions {
    service?: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    /** Milliseconds for each step (open, close); default 2000. */
    timeout?: number;
  }

  /** `@xmpp/client`'s entity (a `Connection` subclass) with its plug-ins. */
  export interface Client extends EventEmitter {
    status: string;
    jid: JID | null;
    /** Resolves with the bound JID once `online`; rejects with the first `error`. */
    start(): Promise<JID>;
    /** Closes the stream, then the socket. */
    stop(): Promise<unknown>;
    send(element: Element): Promise<void>;
    /** The transport wrapper (`@xmpp/tls` Socket) around the node socket while connected. */
    socket: { socket: import('node:tls').TLSSocket | null } | null;
    /** The reconnect plug-in: on by default in 0.14 (see `stop()`). */
    reconnect: { stop(): void };
  }

  export function client(options?: ClientOptions): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<Element | string>): Element;
  export function jid(local: string, domain?: string, resource?: string): JID;
}
