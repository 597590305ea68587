#!/usr/bin/env node
// Checks that the workspace's package.json files agree with each other and with what a published
// package needs. Run by `npm test` (test/packaging) and on its own: `npm run check:packages`.
// Usage: node scripts/check-packages.mjs [ROOT]   (exit 0 when consistent; 1 with one line per problem)
//
// Why each rule:
// - An internal dependency is `^<the dependency's own version>`. `"*"` survives `npm pack` and lets a
//   user's install pair packages that were never built together; a range that the local version does
//   not satisfy makes npm fetch another copy from the registry instead of linking the workspace.
// - Every published package has the root LICENSE (npm adds a LICENSE file to the tarball only when it
//   is in the package folder), `license`, `repository` naming its folder, `homepage`, `keywords`, and
//   the root's `engines` (one range for the whole stack: they are installed together).
// - `exports` lists `./package.json` (tools read it with `require.resolve`), and every source map's
//   sources ship: `files` must hold `src` when the build writes maps that point there.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname);
const problems = [];
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

const rootPkg = readJson(join(root, 'package.json'));
const rootLicense = existsSync(join(root, 'LICENSE')) ? readFileSync(join(root, 'LICENSE'), 'utf8') : undefined;
if (rootLicense === undefined) problems.push('LICENSE: missing at the repository root');

// The workspace folders, expanded from the root's `workspaces` globs (only `dir/*` and plain dirs).
const dirs = [];
for (const pattern of rootPkg.workspaces ?? []) {
  if (pattern.endsWith('/*')) {
    const base = pattern.slice(0, -2);
    for (const name of readdirSync(join(root, base)).sort()) {
      if (existsSync(join(root, base, name, 'package.json'))) dirs.push(`${base}/${name}`);
    }
  } else if (existsSync(join(root, pattern, 'package.json'))) {
    dirs.push(pattern);
  }
}

/** The file paths an `exports` value names (conditions and subpaths flattened). */
function exportTargets(exports) {
  if (typeof exports === 'string') return [exports];
  if (exports === null || typeof exports !== 'object') return [];
  return Object.values(exports).flatMap(exportTargets);
}

/** Whether `files` (entries are paths, folders or `*` globs, as npm reads them) covers `target`. */
function shipped(files, target) {
  const path = target.replace(/^\.\//, '');
  if (path === 'package.json') return true;
  return files.some((f) => {
    if (path === f || path.startsWith(`${f}/`)) return true;
    if (!f.includes('*')) return false;
    const re = new RegExp(`^${f.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
    return re.test(path);
  });
}

const pkgs = dirs.map((dir) => ({ dir, pkg: readJson(join(root, dir, 'package.json')) }));
const versions = new Map(pkgs.map(({ pkg }) => [pkg.name, pkg.version]));

const base = readJson(join(root, 'tsconfig.base.json'));
const mapsPointAtSources = base.compilerOptions?.sourceMap === true && base.compilerOptions?.inlineSources !== true;

for (const { dir, pkg } of pkgs) {
  const where = `${dir}/package.json`;
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(pkg.version ?? '')) problems.push(`${where}: version ${JSON.stringify(pkg.version)} is not a semver version`);
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const [name, range] of Object.entries(pkg[field] ?? {})) {
      if (!versions.has(name)) continue;
      const want = `^${versions.get(name)}`;
      if (range !== want) problems.push(`${where}: ${field}.${name} is ${JSON.stringify(range)}; it must be "${want}" (that package's version)`);
    }
  }
  if (pkg.private === true) continue;

  if (pkg.license !== 'MIT') problems.push(`${where}: license must be "MIT"`);
  const license = join(root, dir, 'LICENSE');
  if (!existsSync(license)) problems.push(`${dir}/LICENSE: missing`);
  else if (rootLicense !== undefined && readFileSync(license, 'utf8') !== rootLicense) problems.push(`${dir}/LICENSE: differs from the root LICENSE`);
  if (pkg.repository?.directory !== dir || typeof pkg.repository?.url !== 'string') problems.push(`${where}: repository must have a url and directory "${dir}"`);
  if (typeof pkg.homepage !== 'string' || pkg.homepage === '') problems.push(`${where}: homepage missing`);
  if (!Array.isArray(pkg.keywords) || pkg.keywords.length === 0) problems.push(`${where}: keywords missing`);
  if (JSON.stringify(pkg.engines) !== JSON.stringify(rootPkg.engines)) problems.push(`${where}: engines ${JSON.stringify(pkg.engines)} differ from the root's ${JSON.stringify(rootPkg.engines)}`);
  if (pkg.type !== 'module') problems.push(`${where}: type must be "module" (the packages are ESM only)`);
  if (pkg.exports?.['./package.json'] !== './package.json') problems.push(`${where}: exports must map "./package.json"`);
  const files = pkg.files ?? [];
  if (!Array.isArray(pkg.files)) problems.push(`${where}: files must list what ships`);
  if (mapsPointAtSources && !files.includes('src')) problems.push(`${where}: files must include "src": the source maps point at it`);
  // Every exports target ships: an export that names a file outside `files` installs but cannot load.
  for (const target of exportTargets(pkg.exports)) {
    if (!shipped(files, target)) problems.push(`${where}: exports target ${target} is not in files`);
  }
  for (const [bin, target] of Object.entries(pkg.bin ?? {})) {
    const path = target.replace(/^\.\//, '');
    if (!shipped(files, target)) problems.push(`${where}: bin ${bin} (${target}) is not in files`);
    if (!existsSync(join(root, dir, path))) problems.push(`${where}: bin ${bin} (${target}) does not exist`);
  }
}

for (const p of problems) process.stdout.write(`${p}\n`);
if (problems.length === 0) process.stdout.write(`${pkgs.length} workspace packages agree\n`);
process.exit(problems.length === 0 ? 0 : 1);
