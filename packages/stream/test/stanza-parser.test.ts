import { test } from 'uvu';
import { parserTable } from '../src/testing.js';
import { toy } from './toy-shortcut.js';

// The behaviour table (src/testing.ts, shared with @ccs-xmpp/stanza's GCM shortcut), run on saxes
// alone and with a shortcut plugged in that recognises none of its stanzas: framing, hand-backs to
// saxes and every verdict must be the same.
for (const t of parserTable([
  { label: 'saxes alone', options: {} },
  { label: 'toy shortcut', options: { shortcut: toy } },
])) {
  test(t.name, t.run);
}

test.run();
