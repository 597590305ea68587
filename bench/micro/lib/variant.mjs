/**
 * Builds a variant of a built stanza file with one hot-path trick taken out, for A/B runs: the GCM
 * shortcut for runs of the whole parser (packages/stanza/dist/src/gcm-shortcut.js), the encoder for
 * runs of `appendDownstream` (gcm-encode.js). The built file is copied to a temporary
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
 * The built `file` (in packages/stanza/dist/src) with the edits applied, imported from a temporary
 * directory; `relink` points its imports back at the real build.
 * @param {string} file
 * @param {string} name
 * @param {Array<[string | RegExp, string]>} edits
 * @param {(src: string) => string} relink
 */
async function builtVariant(file, name, edits, relink) {
  let src = readFileSync(join(DIST, file), 'utf8');
  for (const [from, to] of edits) {
    const count = typeof from === 'string' ? src.split(from).length - 1 : (src.match(new RegExp(from.source, `${from.flags.replace('g', '')}g`)) ?? []).length;
    if (count !== 1) throw new Error(`variant ${name}: ${String(from).slice(0, 60)} matches ${count} times`);
    src = src.replace(from, to);
  }
  const dir = mkdtempSync(join(tmpdir(), `ccs-variant-${name}-`));
  const path = join(dir, file);
  writeFileSync(path, relink(src));
  return import(pathToFileURL(path).href);
}

/**
 * @param {string} name
 * @param {Array<[string | RegExp, string]>} edits
 * @returns {Promise<{ gcmShortcut: object }>}
 */
export function shortcutVariant(name, edits) {
  return builtVariant('gcm-shortcut.js', name, edits, (src) => src
    .replace("from '@ccs-xmpp/stream'", `from '${pathToFileURL(STREAM).href}'`)
    .replace("from './bytes.js'", `from '${pathToFileURL(join(DIST, 'bytes.js')).href}'`)
    .replace("from './namespaces.js'", `from '${pathToFileURL(join(DIST, 'namespaces.js')).href}'`)
    .replace("from './gcm-decode.js'", `from '${pathToFileURL(join(DIST, 'gcm-decode.js')).href}'`));
}

/**
 * @param {string} name
 * @param {Array<[string | RegExp, string]>} edits
 * @returns {Promise<{ GcmEncoder: new () => object }>}
 */
export function encoderVariant(name, edits) {
  // The encoder imports nothing at run time (its one import is of types).
  return builtVariant('gcm-encode.js', name, edits, (src) => src);
}
