import { test } from 'uvu';
import { parserTable } from '@ccs-xmpp/stream/testing';
import { gcmShortcut } from '../src/index.js';

// The stream parser's behaviour table (`@ccs-xmpp/stream/testing`), run with the GCM shortcut
// plugged in and on saxes alone: every case gives the same events both ways, whole, byte by byte
// and in small chunks — the shortcut changes nothing that is reported.
for (const t of parserTable([
  { label: 'GCM shortcut', options: { shortcut: gcmShortcut } },
  { label: 'saxes alone', options: {} },
])) {
  test(t.name, t.run);
}

test.run();
