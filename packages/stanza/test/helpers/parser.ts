// Test helpers for the stream parser with the GCM shortcut plugged in: the recording sink and split
// runs of `@ccs-xmpp/stream/testing` with a `withShortcut` switch, and the GCM view that makes runs
// with and without the shortcut comparable.
import { NS_CLIENT, type StanzaParserOptions, type XmlElement } from '@ccs-xmpp/stream';
import * as streamTesting from '@ccs-xmpp/stream/testing';
import type { Event, NormalEl, TakeParts } from '@ccs-xmpp/stream/testing';
import { NS_GCM, canonicalAckFrom, canonicalAckId, gcmAckShortcut, type GcmParts } from '../../src/index.js';

export { HEADER, bytes, runs, type Event, type NormalEl } from '@ccs-xmpp/stream/testing';

/**
 * Parser options of these tests: `withShortcut` plugs the GCM shortcut in (default true) — the one
 * that also reads ACKs (gcmAckShortcut): the same parts and elements as gcmShortcut, plus the code
 * that reads the canonical ACK from the bytes, which every property then exercises too.
 */
export interface TestParserOptions extends Omit<StanzaParserOptions<GcmParts>, 'shortcut'> {
  withShortcut?: boolean;
}

function parserOptions(options: TestParserOptions): StanzaParserOptions<GcmParts> {
  const { withShortcut = true, ...rest } = options;
  return withShortcut ? { ...rest, shortcut: gcmAckShortcut } : rest;
}

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

/**
 * The parts' `ackId` must be exactly what `canonicalAckId` makes of their JSON, for every stanza
 * at every split: the shortcut reads it from the bytes where it can, and an answer that differed
 * would send an ACK (or a NACK taken for one) down the wrong path. Thrown out of the sink, so the
 * property fails where it happens.
 */
export function checkAckId(parts: GcmParts): void {
  // `ackId` and `ackFrom` first: a canonical ACK's are read from the bytes only while its `json` has
  // not been asked for (after that, from the string).
  const got = parts.ackId;
  const froms = got === undefined ? [] : ackFroms(parts);
  const json = parts.json;
  const expected = canonicalAckId(json);
  if (got !== expected) throw new Error(`ackId ${JSON.stringify(got)} where canonicalAckId says ${JSON.stringify(expected)} of ${JSON.stringify(json)}`);
  if (expected === undefined) return;
  const from = canonicalAckFrom(json);
  for (const [known, f, same] of froms) {
    if (f !== from || (same && f !== known)) throw new Error(`ackFrom(${JSON.stringify(known)}) ${JSON.stringify(f)} where canonicalAckFrom says ${JSON.stringify(from)} of ${JSON.stringify(json)}`);
  }
}

/**
 * `ackFrom` with no known token, with the `from` itself (a copy: the very string passed in must come
 * back), with a string of its length that differs in its last character, and with a longer one.
 */
function ackFroms(parts: GcmParts): Array<[string | undefined, string, boolean]> {
  const from = parts.ackFrom();
  const copy = [...from].join('');
  const other = from.length === 0 ? 'x' : from.slice(0, -1) + (from.endsWith('x') ? 'y' : 'x');
  return [[undefined, from, false], [copy, parts.ackFrom(copy), true], [other, parts.ackFrom(other), false], [`${from}z`, parts.ackFrom(`${from}z`), false]];
}

/** The sink's `onShortcut` for a mode (none for `elements`); every parts' `ackId` checked by checkAckId. */
function take(gcm: GcmMode): TakeParts<GcmParts> | undefined {
  if (gcm === 'elements') return undefined;
  return (parts, events) => {
    checkAckId(parts);
    const { json, attrs } = parts;
    if (gcm === 'decline' && json.length % 2 === 1) return false;
    events.push(['stanza', shortcutElement(json, attrs)]);
    return true;
  };
}

/** Parses `input` cut at the given offsets (sorted, deduplicated, within bounds). */
export function parseSplit(
  input: Uint8Array,
  cuts: number[],
  options: TestParserOptions = {},
  restartOn?: (el: XmlElement) => boolean,
  gcm: GcmMode = 'elements',
): Event[] {
  return streamTesting.parseSplit(input, cuts, parserOptions(options), restartOn, take(gcm));
}

/**
 * Parses `input` cut at the given offsets and returns, after each chunk, how many events had been
 * reported: two parsers that agree on this agree on what was known when, not just in the end.
 */
export function progressSplit(input: Uint8Array, cuts: number[], options: TestParserOptions = {}): { events: Event[]; progress: number[] } {
  return streamTesting.progressSplit(input, cuts, parserOptions(options));
}

/**
 * Runs `f` counting the calls of RegExp `exec` and `test` on the regular expressions `which`
 * accepts (all by default): a spy for claims that are otherwise only about time, as the spy
 * on `timingSafeEqual` is (a head seen before is recognised from its bytes, without them).
 */
export function regexCalls(f: () => void, which: (re: RegExp) => boolean = () => true): number {
  const { exec, test } = RegExp.prototype;
  let calls = 0;
  RegExp.prototype.exec = function (this: RegExp, s: string) {
    if (which(this)) calls++;
    return exec.call(this, s);
  };
  RegExp.prototype.test = function (this: RegExp, s: string) {
    if (which(this)) calls++;
    return test.call(this, s);
  };
  try {
    f();
  } finally {
    RegExp.prototype.exec = exec;
    RegExp.prototype.test = test;
  }
  return calls;
}
