/**
 * Builds a variant of the GCM shortcut with one hot-path trick taken out, for A/B runs of the whole
 * parser: the built file (packages/stanza/dist/src/gcm-shortcut.js) is copied to a temporary
 * directory with textual replacements, its relative imports pointed back at the real build. Each
 * replacement must match exactly once, so a variant that no longer applies fails loudly instead of
 * measuring the original twice.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const DIST = fileURLToPath(new URL('../../../packages/stanza/dist/src/', import.meta.url));
const STREAM = fileURLToPath(new URL('../../../packages/stream/dist/src/index.js', import.meta.url));

/**
 * @param {string} name
 * @param {Array<[string | RegExp, string]>} edits
 * @returns {Promise<{ gcmShortcut: object }>}
 */
export async function shortcutVariant(name, edits) {
  let src = readFileSync(join(DIST, 'gcm-shortcut.js'), 'utf8');
  for (const [from, to] of edits) {
    const count = typeof from === 'string' ? src.split(from).length - 1 : (src.match(new RegExp(from.source, `${from.flags.replace('g', '')}g`)) ?? []).length;
    if (count !== 1) throw new Error(`variant ${name}: ${String(from).slice(0, 60)} matches ${count} times`);
    src = src.replace(from, to);
  }
  src = src
    .replace("from '@ccs-xmpp/stream'", `from '${pathToFileURL(STREAM).href}'`)
    .replace("from './bytes.js'", `from '${pathToFileURL(join(DIST, 'bytes.js')).href}'`)
    .replace("from './namespaces.js'", `from '${pathToFileURL(join(DIST, 'namespaces.js')).href}'`)
    .replace("from './gcm-decode.js'", `from '${pathToFileURL(join(DIST, 'gcm-decode.js')).href}'`);
  const dir = mkdtempSync(join(tmpdir(), `ccs-variant-${name}-`));
  const file = join(dir, 'gcm-shortcut.js');
  writeFileSync(file, src);
  return import(pathToFileURL(file).href);
}
