import { once } from 'node:events';
import type * as net from 'node:net';
import { NS_CLIENT, NS_STREAM, StanzaParser, type StanzaParserOptions, type XmlElement } from '../src/index.js';

/** Stream header attributes the connection tests send as client and as server. */
export const CLIENT_HEADER = { to: 'gcm.googleapis.com', version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM };
export const SERVER_HEADER = { from: 'gcm.googleapis.com', id: 's1', version: '1.0', xmlns: NS_CLIENT, 'xmlns:stream': NS_STREAM };

/** Listens on 127.0.0.1 (a free port) and resolves with the port. */
export async function listenLocal(server: net.Server): Promise<number> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/** One sink call, in a comparable form. */
export type Event =
  | ['open', Record<string, string>]
  | ['stanza', NormalEl]
  | ['end']
  | ['error', string, string];

/** An element as plain data, for deep comparison (prototype and class stripped). */
export interface NormalEl {
  name: string;
  local: string;
  prefix: string;
  uri: string;
  attrs: Array<[string, string]>;
  children: Array<NormalEl | string>;
}

export function normal(el: XmlElement): NormalEl {
  return {
    name: el.name,
    local: el.local,
    prefix: el.prefix,
    uri: el.uri,
    attrs: Object.keys(el.attrs).map((k) => [k, el.attrs[k] as string]),
    children: el.children.map((c) => (typeof c === 'string' ? c : normal(c))),
  };
}

export const HEADER =
  "<?xml version='1.0'?><stream:stream from='gcm.googleapis.com' id='S1' version='1.0' " +
  "xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client'>";

/** A parser whose sink records every call; `restartOn` resets the parser from inside onStanza. */
export function recorder<P = never>(options: StanzaParserOptions<P> = {}, restartOn?: (el: XmlElement) => boolean, onShortcut?: (parts: P, events: Event[]) => boolean) {
  const events: Event[] = [];
  const elements: XmlElement[] = [];
  const parser: StanzaParser<P> = new StanzaParser<P>(
    {
      ...(onShortcut === undefined ? {} : { onShortcut: (parts: P) => onShortcut(parts, events) }),
      onStreamOpen: (h) => events.push(['open', { ...h.attrs }]),
      onStanza: (el) => {
        events.push(['stanza', normal(el)]);
        elements.push(el);
        if (restartOn?.(el)) parser.reset();
      },
      onStreamEnd: () => events.push(['end']),
      onError: (e) => events.push(['error', e.condition, e.code]),
    },
    options,
  );
  return { parser, events, elements };
}

/** Parses `input` cut at the given offsets (sorted, deduplicated, within bounds). */
export function parseSplit<P = never>(
  input: Uint8Array,
  cuts: number[],
  options: StanzaParserOptions<P> = {},
  restartOn?: (el: XmlElement) => boolean,
  onShortcut?: (parts: P, events: Event[]) => boolean,
): Event[] {
  const r = recorder(options, restartOn, onShortcut);
  let prev = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b)) {
    r.parser.write(input.subarray(prev, cut));
    prev = cut;
  }
  r.parser.write(input.subarray(prev));
  return r.events;
}

/**
 * Parses `input` cut at the given offsets and returns, after each chunk, how many events had been
 * reported: two parsers that agree on this agree on what was known when, not just in the end.
 */
export function progressSplit<P = never>(
  input: Uint8Array,
  cuts: number[],
  options: StanzaParserOptions<P> = {},
  onShortcut?: (parts: P, events: Event[]) => boolean,
): { events: Event[]; progress: number[] } {
  const r = recorder(options, undefined, onShortcut);
  const progress: number[] = [];
  let prev = 0;
  for (const cut of [...new Set(cuts)].filter((c) => c > 0 && c < input.length).sort((a, b) => a - b)) {
    r.parser.write(input.subarray(prev, cut));
    progress.push(r.events.length);
    prev = cut;
  }
  r.parser.write(input.subarray(prev));
  progress.push(r.events.length);
  return { events: r.events, progress };
}

/** Parses `input` in chunks of `size` bytes. */
export function parseChunked<P = never>(input: Uint8Array, size: number, options: StanzaParserOptions<P> = {}): Event[] {
  const cuts: number[] = [];
  for (let i = size; i < input.length; i += size) cuts.push(i);
  return parseSplit(input, cuts, options);
}

export const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Property-test run counts: fixed in the default run, larger behind FUZZ=1. */
export const runs = (n: number): number => (process.env.FUZZ ? n * 50 : n);
