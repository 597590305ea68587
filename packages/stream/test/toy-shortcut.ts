// A toy shortcut for `<x>letters</x>`: it exercises the parser's framer (whitespace, cut stanzas,
// hand-backs to saxes, damage) the way the GCM one in @ccs-xmpp/stanza does, without any CCS.
import { SCAN_DECLINE, SCAN_WAIT, XmlElement, type StanzaShortcut, type StanzaShortcutMatcher } from '../src/index.js';
import { normal, type Event } from '../src/testing.js';

const TOY_WHOLE = /^<x>([a-z]*)$/;
// What may stand before `</x>` has arrived without saxes having anything to say yet.
const TOY_PREFIX = /^<x(?:>[a-z]*(?:<(?:\/x?)?)?)?$/;

export class ToyMatcher implements StanzaShortcutMatcher<string> {
  released = 0;
  /** What the last release() was told it may keep (the parser's own buffer), and the last buffer scan() read. */
  kept: Buffer | undefined;
  scanned: Buffer | undefined;
  reset(): void {}
  release(keep?: Buffer): void {
    this.released++;
    this.kept = keep;
  }
  scan(buf: Buffer, start: number, end: number): number {
    this.scanned = buf;
    const close = buf.indexOf('</x>', start, 'latin1');
    if (close !== -1 && close + 4 <= end) return close;
    return TOY_PREFIX.test(buf.toString('latin1', start, end)) ? SCAN_WAIT : SCAN_DECLINE;
  }
  match(buf: Buffer, start: number, close: number): string | undefined {
    return TOY_WHOLE.exec(buf.toString('latin1', start, close))?.[1];
  }
  element(text: string, defaultNs: string): XmlElement {
    return new XmlElement('x', 'x', '', defaultNs, {}, text === '' ? [] : [text]);
  }
}

/** Every matcher the toy shortcut has made, in order. */
export const matchers: ToyMatcher[] = [];

export const toy: StanzaShortcut<string> = {
  name: 'x',
  createMatcher: () => {
    const m = new ToyMatcher();
    matchers.push(m);
    return m;
  },
};

/** Takes the parts as the element they stand for; with `decline`, declines those of odd length. */
export const take = (decline: boolean) => (text: string, events: Event[]): boolean => {
  if (decline && text.length % 2 === 1) return false;
  events.push(['stanza', normal(new XmlElement('x', 'x', '', 'jabber:client', {}, text === '' ? [] : [text]))]);
  return true;
};
