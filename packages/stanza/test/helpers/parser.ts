// Test helpers for the stream parser with the GCM shortcut plugged in: a recording sink, split and
// progress runs, and the GCM view that makes runs with and without the shortcut comparable.
import { NS_CLIENT, StanzaParser, type StanzaParserOptions, type XmlElement } from '@ccs-xmpp/stream';
import { NS_GCM, gcmShortcut, type GcmParts } from '../../src/index.js';

/** Parser options of these tests: `withShortcut` plugs the GCM shortcut in (default true). */
export interface TestParserOptions extends Omit<StanzaParserOptions<GcmParts>, 'shortcut'> {
  withShortcut?: boolean;
}

function parserOptions(options: TestParserOptions): StanzaParserOptions<GcmParts> {
  const { withShortcut = true, ...rest } = options;
  return withShortcut ? { ...rest, shortcut: gcmShortcut } : rest;
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

/**
 * How the recording sink takes CCS messages: `elements` has no `onShortcut` (every stanza is an
 * element); `shortcut` takes them as JSON + attributes; `decline` takes those whose JSON has an
 * even length and declines the rest (they must then come as elements).
 */
export type GcmMode = 'elements' | 'shortcut' | 'decline';

/**
 * The message element a gcm shortcut stands for, as `normal` would give it. The shortcut does not
 * say which prefix the gcm element had, so `gcmView` is the form to compare in.
 */
function shortcutElement(json: string, attrs: Readonly<Record<string, string>>): NormalEl {
  return {
    name: 'message', local: 'message', prefix: '', uri: NS_CLIENT,
    attrs: Object.keys(attrs).map((k) => [k, attrs[k] as string]),
    children: [{ name: 'gcm', local: 'gcm', prefix: '', uri: NS_GCM, attrs: [['xmlns', NS_GCM]], children: json === '' ? [] : [json] }],
  };
}

/**
 * Events with every "message holding exactly one gcm element of text" written the same way
 * whatever the gcm prefix was, so runs with and without the gcm shortcut compare.
 */
export function gcmView(events: Event[]): Event[] {
  return events.map((e) => {
    if (e[0] !== 'stanza') return e;
    const el = e[1];
    const only = el.children.length === 1 ? el.children[0] : undefined;
    if (el.name !== 'message' || only === undefined || typeof only === 'string' || only.local !== 'gcm' || only.uri !== NS_GCM) return e;
    if (only.children.some((c) => typeof c !== 'string') || only.attrs.length !== 1 || !only.attrs[0]?.[0].startsWith('xmlns')) return e;
    if (el.attrs.some(([k]) => k === 'xmlns' || k.startsWith('xmlns:'))) return e;
    return ['stanza', shortcutElement(only.children.join(''), Object.fromEntries(el.attrs))];
  });
}

/** A parser whose sink records every call; `restartOn` resets the parser from inside onStanza. */
export function recorder(options: TestParserOptions = {}, restartOn?: (el: XmlElement) => boolean, gcm: GcmMode = 'elements') {
  const events: Event[] = [];
  const elements: XmlElement[] = [];
  const onShortcut = ({ json, attrs }: GcmParts): boolean => {
    if (gcm === 'decline' && json.length % 2 === 1) return false;
    events.push(['stanza', shortcutElement(json, attrs)]);
    return true;
  };
  const parser: StanzaParser<GcmParts> = new StanzaParser<GcmParts>(
    {
      ...(gcm === 'elements' ? {} : { onShortcut }),
      onStreamOpen: (h) => events.push(['open', { ...h.attrs }]),
      onStanza: (el) => {
        events.push(['stanza', normal(el)]);
        elements.push(el);
        if (restartOn?.(el)) parser.reset();
      },
      onStreamEnd: () => events.push(['end']),
      onError: (e) => events.push(['error', e.condition, e.code]),
    },
    parserOptions(options),
  );
  return { parser, events, elements };
}

/** Parses `input` cut at the given offsets (sorted, deduplicated, within bounds). */
export function parseSplit(
  input: Uint8Array,
  cuts: number[],
  options: TestParserOptions = {},
  restartOn?: (el: XmlElement) => boolean,
  gcm: GcmMode = 'elements',
): Event[] {
  const r = recorder(options, restartOn, gcm);
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
export function progressSplit(input: Uint8Array, cuts: number[], options: TestParserOptions = {}): { events: Event[]; progress: number[] } {
  const r = recorder(options);
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
export function parseChunked(input: Uint8Array, size: number, options: TestParserOptions = {}): Event[] {
  const cuts: number[] = [];
  for (let i = size; i < input.length; i += size) cuts.push(i);
  return parseSplit(input, cuts, options);
}

export const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** Property-test run counts: fixed in the default run, larger behind FUZZ=1. */
export const runs = (n: number): number => (process.env.FUZZ ? n * 50 : n);
