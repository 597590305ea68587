import * as fc from 'fast-check';
import { setTimeout as tick } from 'node:timers/promises';
import * as v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { recorder } from '@ccs-xmpp/stream/testing';
import { gcmShortcut, type GcmParts } from '../src/index.js';
import { HEADER, bytes } from './helpers/parser.js';

// The attributes of a head recalled by an id template with a new id (an upstream message's) are
// made when they are first read, or when the parser lets go of the bytes they come from (the end
// of the write, or before it copies bytes over its own buffer): a consumer that reads only the
// payload never decodes the id nor copies the template's attributes. Whatever is read, and
// whenever until the next stanza, it must be what saxes gives.

const NS = 'google:mobile:data';
const up = (id: string, payload = '{"a":1}'): string =>
  `<message to="x@gcm.googleapis.com" type="normal" id="${id}"><gcm xmlns="${NS}">${payload}</gcm></message>`;
const bare = (id: string): string => `<message id="${id}"><gcm xmlns="${NS}">{}</gcm></message>`;
const IQ = "<iq type='get' id='p1' from='gcm.googleapis.com'><ping xmlns='urn:xmpp:ping'/></iq>";
/** The start of a stanza whose end comes with a later write, long enough to cover a head. */
const CUT = `<message to="y" id="u-cut"><gcm xmlns="${NS}">{"category":"c","data":{"k":"${'v'.repeat(600)}`;
const attrsOf = (id: string): Record<string, string> => ({ to: 'x@gcm.googleapis.com', type: 'normal', id });

/** The attributes' object as the matcher holds it, read without making it (null: not made). */
function heldAttrs(parts: GcmParts): Record<string, string> | null {
  return (parts as unknown as { partsAttrs: Record<string, string> | null }).partsAttrs;
}

test('a consumer that reads only the payload leaves the attributes of a new id unmade; read later, they are the stanza\'s', () => {
  const held: Array<Record<string, string> | null> = [];
  const kept: GcmParts[] = [];
  const r = recorder({ shortcut: gcmShortcut }, undefined, (parts: GcmParts) => {
    void parts.json;
    held.push(heldAttrs(parts));
    kept.push(parts);
    return true;
  });
  r.parser.write(bytes(HEADER));
  r.parser.write(bytes(up('m-1') + up('m-2') + up('m-3') + up('m-3')));
  // The first head is judged by the regular expression (its attributes made with it); the next two
  // are recalled with new ids; the fourth has the third's id, never made: again a new one.
  assert.equal(held.slice(1).map((a) => a === null), [true, true, true]);
  // Valid until the next stanza: the last parts, after the write, read as the stanza had them.
  assert.equal({ ...(kept[3] as GcmParts).attrs }, attrsOf('m-3'));
});

test('attributes read in the callback are the stanza\'s; the next stanza with the same id shares them', () => {
  const seen: Array<Readonly<Record<string, string>>> = [];
  const r = recorder({ shortcut: gcmShortcut }, undefined, (parts: GcmParts) => (seen.push(parts.attrs), true));
  r.parser.write(bytes(HEADER + up('m-1') + up('m-2') + up('m-2') + up('m-3') + bare('') + bare('') + bare('b')));
  assert.equal(seen.map((a) => ({ ...a })), [attrsOf('m-1'), attrsOf('m-2'), attrsOf('m-2'), attrsOf('m-3'), { id: '' }, { id: '' }, { id: 'b' }]);
  assert.ok(seen[1] === seen[2], 'the same id, the same object');
  assert.ok(seen[4] === seen[5], 'the same id, the same object');
});

test('an element of a recalled head with a new id has the stanza\'s attributes', () => {
  // Payloads of odd length are declined: they come as elements.
  const r = recorder({ shortcut: gcmShortcut }, undefined, (parts: GcmParts) => parts.json.length % 2 === 0);
  r.parser.write(bytes(HEADER + up('m-1', '{"a":1}') + up('m-2', '{"a":12}') + up('m-3', '{"a":1}')));
  assert.equal(r.elements.map((el) => ({ ...el.attrs })), [attrsOf('m-1'), attrsOf('m-3')]);
});

/** A parser whose consumer reads only the payload, and the parts it was handed, after a first stanza that makes the template. */
function payloadOnly(): { write(chunk: string): void; seen: GcmParts[] } {
  const seen: GcmParts[] = [];
  const r = recorder({ shortcut: gcmShortcut }, undefined, (parts: GcmParts) => (void parts.json, seen.push(parts), true));
  r.parser.write(bytes(HEADER + up('m-0')));
  return { write: (chunk) => r.parser.write(bytes(chunk)), seen };
}

test('a stanza taken from a small chunk keeps its attributes when the rest of the chunk, after a stanza saxes took, is copied into the parser\'s buffer', () => {
  const { write, seen } = payloadOnly();
  write(up('m-1') + IQ + CUT);
  assert.is(seen.length, 2);
  assert.equal({ ...(seen[1] as GcmParts).attrs }, attrsOf('m-1'));
});

test('a stanza finished by a large chunk keeps its attributes when that chunk ends with the start of another stanza', () => {
  const { write, seen } = payloadOnly();
  const first = up('m-2');
  const cutAt = 30;
  write(first.slice(0, cutAt));
  // More than 4096 bytes: read in place, the stanza's end appended to the parser's buffer.
  write(first.slice(cutAt) + ' '.repeat(5000) + CUT);
  assert.is(seen.length, 2);
  assert.equal({ ...(seen[1] as GcmParts).attrs }, attrsOf('m-2'));
});

test('property: however the stream is cut, the last parts of each write read the attributes of their stanza after it', () => {
  const ids = ['m-1', 'm-22', 'm-22', 'm-333', 'm-4', 'm-55', 'm-6'];
  const stanzas = [up(ids[0] as string), IQ, up(ids[1] as string), ' '.repeat(600), up(ids[2] as string), up(ids[3] as string), IQ, up(ids[4] as string), ' '.repeat(5000), up(ids[5] as string), IQ, up(ids[6] as string)];
  const input = bytes(HEADER + stanzas.join('') + CUT);
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: HEADER.length, max: input.length - 1 }), { maxLength: 8 }), (cuts) => {
      const seen: GcmParts[] = [];
      // Only the payload read in the callback: the attributes are left unmade.
      const r = recorder({ shortcut: gcmShortcut }, undefined, (parts: GcmParts) => (void parts.json, seen.push(parts), true));
      let at = 0;
      for (const cut of [...cuts.sort((a, b) => a - b), input.length]) {
        if (cut <= at) continue;
        const before = seen.length;
        r.parser.write(input.subarray(at, cut));
        at = cut;
        if (seen.length > before) {
          const got = { ...(seen[seen.length - 1] as GcmParts).attrs };
          const want = attrsOf(ids[seen.length - 1] as string);
          if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`attrs ${JSON.stringify(got)} after the write, ${JSON.stringify(want)} wanted (cuts ${cuts.join(', ')})`);
        }
      }
      assert.is(seen.length, ids.length);
    }),
    { seed: 0xa77, numRuns: 300 },
  );
});

// Regression: the bytes of a new id were kept (`idBuf`) after a later stanza of the same write was
// handed over with attributes already made (a head without an id, or the last id again): release()
// made nothing, so nothing let go of the chunk, which stayed referenced until the next new id —
// against "no chunk is referenced after the call that was given it" (README, StanzaShortcutMatcher).
test('the bytes of a new id left unmade are not referenced after the write when a later stanza of it had its attributes made', async () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // A head without an id; the id whose attributes the template holds (the first stanza's, made).
  for (const last of [bare(''), up('m-0')]) {
    const seen: GcmParts[] = [];
    const r = recorder({ shortcut: gcmShortcut }, undefined, (parts: GcmParts) => (void parts.json, seen.push(parts), true));
    r.parser.write(bytes(HEADER + up('m-0')));
    // Many new ids (attributes left unmade), then a stanza whose attributes need no id's bytes.
    const whole = Array.from({ length: 60 }, (_, i) => up(`m-${i + 1}`)).join('') + last;
    let chunk: Buffer | undefined = Buffer.from(whole, 'latin1');
    assert.ok(chunk.length > 4096 && chunk.buffer.byteLength === chunk.length, 'a chunk with its own memory');
    const ref = new WeakRef(chunk.buffer);
    r.parser.write(chunk);
    chunk = undefined;
    assert.is(seen.length, 62);
    // A WeakRef's target is kept until the current job ends.
    for (let i = 0; i < 5 && ref.deref() !== undefined; i++) {
      await tick();
      gc();
    }
    assert.is(ref.deref(), undefined, `the chunk is still referenced by the parser (last ${last.slice(0, 20)})`);
  }
});

test.run();
