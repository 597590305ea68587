// scripts/check-packages.mjs: the repository's package.json files agree (versions, internal ranges,
// LICENSE, metadata), and the check notices when they do not.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const SCRIPT = join(ROOT, 'scripts', 'check-packages.mjs');

const check = (root: string): { code: number | null; out: string } => {
  const r = spawnSync(process.execPath, [SCRIPT, root], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout + r.stderr };
};

/** A copy of the repository's manifests, LICENSEs, bins and base tsconfig (no sources), to break on purpose. */
function copyManifests(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ccs-check-'));
  const copy = (rel: string): void => {
    if (existsSync(join(ROOT, rel))) cpSync(join(ROOT, rel), join(dir, rel), { recursive: true });
  };
  for (const f of ['package.json', 'LICENSE', 'tsconfig.base.json', 'bench/package.json', 'test/package.json']) copy(f);
  for (const p of readdirSync(join(ROOT, 'packages'))) {
    for (const f of ['package.json', 'LICENSE', 'bin']) copy(`packages/${p}/${f}`);
  }
  return dir;
}

const edit = (file: string, change: (pkg: Record<string, unknown>) => void): void => {
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  change(pkg);
  writeFileSync(file, JSON.stringify(pkg));
};

test('the repository\'s packages agree (check:packages exits 0)', () => {
  const r = check(ROOT);
  assert.is(r.code, 0, r.out);
  assert.match(r.out, /workspace packages agree/);
});

test('check:packages names an internal dependency on "*" and a range the local version does not satisfy', () => {
  const dir = copyManifests();
  try {
    assert.is(check(dir).code, 0, 'the copy starts consistent');
    edit(join(dir, 'packages/ccs/package.json'), (p) => ((p['dependencies'] as Record<string, string>)['@ccs-xmpp/stream'] = '*'));
    edit(join(dir, 'packages/emulator/package.json'), (p) => ((p['dependencies'] as Record<string, string>)['@ccs-xmpp/stanza'] = '^0.0.9'));
    const r = check(dir);
    assert.is(r.code, 1);
    assert.match(r.out, /packages\/ccs\/package\.json: dependencies\.@ccs-xmpp\/stream is "\*"; it must be "\^0\.1\.0"/);
    assert.match(r.out, /packages\/emulator\/package\.json: dependencies\.@ccs-xmpp\/stanza is "\^0\.0\.9"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('check:packages names a missing LICENSE, exports without ./package.json or naming unshipped files, and unshipped map sources', () => {
  const dir = copyManifests();
  try {
    rmSync(join(dir, 'packages/sasl/LICENSE'));
    edit(join(dir, 'packages/stanza/package.json'), (p) => {
      p['exports'] = { '.': './dist/src/index.js', './extra': { types: './dist/test/extra.d.ts', default: './dist/test/extra.js' } };
      p['files'] = ['dist/src'];
    });
    const r = check(dir);
    assert.is(r.code, 1);
    assert.match(r.out, /packages\/sasl\/LICENSE: missing/);
    assert.match(r.out, /packages\/stanza\/package\.json: exports must map "\.\/package\.json"/);
    assert.match(r.out, /packages\/stanza\/package\.json: files must include "src"/);
    assert.match(r.out, /packages\/stanza\/package\.json: exports target \.\/dist\/test\/extra\.js is not in files/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
