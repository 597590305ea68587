// Our parser as a contender of the parser micros (bench/micro/parser-ab.mjs, vs-ceiling.mjs): one
// build's StanzaParser and shortcuts, given as its modules so that parser-ab can run two builds in
// one process.
import { gcmPayloadOf } from './ccs-mix.mjs';

/**
 * A run over chunks of `stanzas` stanzas, as `how`: shortcut — parts, JSON.parse of every payload;
 * elements — the element saxes would build, JSON.parse of its payload; client — canonical ACKs by
 * the parts' ackId from gcmAckShortcut (canonicalAckId of the text in a build without it),
 * JSON.parse for the rest; bare — parts, no JSON.parse (the parser's own cost). Throws when a run
 * did not see every stanza.
 */
export function parserContender({ stream: { StanzaParser }, stanza: { gcmShortcut, gcmAckShortcut, canonicalAckId } }, how, stanzas) {
  // The client takes the canonical ACK's id from the parts of gcmAckShortcut where the build has
  // it (since the sixth pass), else from canonicalAckId of the text, as it did before.
  const shortcut = how === 'client' && gcmAckShortcut !== undefined ? gcmAckShortcut : gcmShortcut;
  const ackIdOf = gcmAckShortcut !== undefined ? (parts) => parts.ackId : (parts) => canonicalAckId(parts.json);
  return (chunks) => {
    let n = 0;
    const onShortcut =
      how === 'bare' ? () => (n++, true)
      : how === 'client' ? (parts) => (ackIdOf(parts) === undefined && JSON.parse(parts.json), n++, true)
      : ({ json }) => (JSON.parse(json), n++, true);
    const p = new StanzaParser(
      {
        ...(how === 'elements' ? {} : { onShortcut }),
        onStreamOpen() {},
        onStanza(el) {
          const json = gcmPayloadOf(el);
          if (json !== undefined) {
            JSON.parse(json);
            n++;
          }
        },
        onStreamEnd() {},
        onError(e) {
          throw e;
        },
      },
      { shortcut },
    );
    for (let i = 0; i < chunks.length; i++) p.write(chunks[i]);
    if (n !== stanzas) throw new Error(`${how}: ${n} of ${stanzas} stanzas`);
  };
}
