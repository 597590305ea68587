// The project stands on its own: its Markdown never points outside the repository, every relative
// link (and #anchor) resolves, and the READMEs that describe protocol behaviour link docs/PROTOCOL.md.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SKIP = new Set(['node_modules', 'dist', 'coverage', '.git', '.tmp', '.turbo', '.stryker-tmp']);

function markdownFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    // Stryker sandboxes under any tempDirName (.stryker-tmp, .stryker-tmp-<run>): copies, created and removed mid-scan.
    if (SKIP.has(name) || name.startsWith('.stryker-tmp')) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) markdownFiles(full, out);
    else if (name.endsWith('.md')) out.push(full);
  }
  return out;
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes. */
const slug = (heading: string): string =>
  heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

const anchors = (file: string): Set<string> =>
  new Set([...readFileSync(file, 'utf8').matchAll(/^#{1,6}\s+(.+)$/gm)].map((m) => slug((m[1] as string).replace(/`/g, ''))));

const files = markdownFiles(ROOT);

test('no Markdown file points outside the repository (no /work/…, no shared spec folder)', () => {
  assert.ok(files.length >= 8, 'found the READMEs');
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const bad of [/\/work\//, /shared\/spec/, /\.\.\/shared\b/, /spec folder/]) {
      assert.not.ok(bad.test(text), `${relative(ROOT, file)} mentions ${bad}`);
    }
  }
});

test('every relative Markdown link and #anchor resolves inside the repository', () => {
  let checked = 0;
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1] as string;
      if (/^[a-z]+:/i.test(target)) continue;
      const [path, anchor] = target.split('#') as [string, string | undefined];
      const abs = path === '' ? file : resolve(dirname(file), path);
      assert.ok(abs.startsWith(ROOT), `${relative(ROOT, file)} links ${target}, outside the repository`);
      assert.ok(existsSync(abs), `${relative(ROOT, file)} links ${target}, which does not exist`);
      if (anchor !== undefined && abs.endsWith('.md')) {
        assert.ok(anchors(abs).has(anchor), `${relative(ROOT, file)} links ${target}: no heading has that anchor`);
      }
      checked++;
    }
  }
  assert.ok(checked > 10, `links were checked (${checked})`);
});

test('the root README and the ccs, stanza and emulator READMEs link docs/PROTOCOL.md', () => {
  const links = (file: string): string[] => [...readFileSync(join(ROOT, file), 'utf8').matchAll(/\]\(([^)\s#]+)/g)].map((m) => resolve(dirname(join(ROOT, file)), m[1] as string));
  const protocol = join(ROOT, 'docs', 'PROTOCOL.md');
  assert.ok(existsSync(protocol));
  for (const readme of ['README.md', 'packages/ccs/README.md', 'packages/stanza/README.md', 'packages/emulator/README.md']) {
    assert.ok(links(readme).includes(protocol), `${readme} links docs/PROTOCOL.md`);
  }
});

test('docs/PROTOCOL.md has the sections the code cites by name', () => {
  const sections = anchors(join(ROOT, 'docs', 'PROTOCOL.md'));
  for (const name of ['Connection', 'Message framing', 'Downstream (app server → CCS → device)', 'NACK codes', 'Upstream (device → CCS → app server)', 'Receipts', 'Control: draining', 'Flow control', 'Emulator behaviour']) {
    assert.ok(sections.has(slug(name)), `section "${name}"`);
  }
});

test.run();
