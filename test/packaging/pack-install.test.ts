// What a user gets from the registry, tried the way a user would: `npm pack` each published package,
// install the tarballs into an empty project, then import each package, run each bin's `--help`,
// type-check a strict consumer against the shipped `.d.ts` and run it against the emulator.
//
// Offline and hermetic: the packages' own third-party dependencies (saxes and what it needs) are
// packed from the repository's node_modules too, and npm installs from those tarballs only, with a
// cache of its own (`--offline`: a registry lookup fails the test instead of slowing it down).
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

interface Pkg {
  name: string;
  version: string;
  private?: boolean;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  bin?: Record<string, string>;
  exports?: Record<string, unknown>;
}
interface Packed {
  name: string;
  filename: string;
  files: { path: string }[];
}
interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

const readJson = <T>(file: string): T => JSON.parse(readFileSync(file, 'utf8')) as T;

const published = readdirSync(join(ROOT, 'packages'))
  .sort()
  .map((dir) => ({ dir: `packages/${dir}`, pkg: readJson<Pkg>(join(ROOT, 'packages', dir, 'package.json')) }))
  .filter(({ pkg }) => pkg.private !== true);
const internal = new Set(published.map(({ pkg }) => pkg.name));

// The child processes get a clean environment: no `npm_*` settings inherited from `npm test`, and no
// coverage collection (c8 sets NODE_V8_COVERAGE for every descendant; npm and tsc are not ours).
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!/^npm_/i.test(k) && k !== 'NODE_V8_COVERAGE' && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return env;
}

/** Runs a command to completion; kills it after `timeoutMs` (a loaded machine gets plenty). */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 180_000): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd, env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      fail(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

// `npm` as the running npm knows itself (npm_execpath under `npm test`), else from PATH.
const NPM = process.env['npm_execpath']?.endsWith('.js') ? [process.execPath, process.env['npm_execpath']] : ['npm'];
const npm = (args: string[], cwd: string): Promise<Ran> => run(NPM[0] as string, [...NPM.slice(1), ...args], cwd);

function expectOk(r: Ran, what: string): void {
  if (r.code !== 0) assert.unreachable(`${what} exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
}

/** Third-party runtime dependencies of the published packages, resolved like Node would from the repository. */
function externalDependencyDirs(): string[] {
  const found = new Map<string, string>();
  const visit = (fromDir: string, deps: Record<string, string> | undefined): void => {
    for (const name of Object.keys(deps ?? {})) {
      if (internal.has(name) || found.has(name)) continue;
      let dir: string | undefined;
      for (let d = fromDir; ; d = dirname(d)) {
        const candidate = join(d, 'node_modules', name);
        if (existsSync(join(candidate, 'package.json'))) {
          dir = candidate;
          break;
        }
        if (dirname(d) === d) break;
      }
      if (dir === undefined) throw new Error(`${name} is not installed under ${fromDir}: run npm ci first`);
      found.set(name, dir);
      visit(dir, readJson<Pkg>(join(dir, 'package.json')).dependencies);
    }
  };
  // Optional peers too (fast-check for ccs's conformance suite): the test loads every export.
  for (const { dir, pkg } of published) visit(join(ROOT, dir), { ...pkg.dependencies, ...pkg.peerDependencies });
  return [...found.values()];
}

interface Ctx {
  tmp: string;
  app: string;
  packed: Packed[];
  tsc?: Promise<Ran>;
}

const packaging = suite<Ctx>('pack and install');

// Its own deadline: three npm runs, each bounded by run()'s 180 s, on a machine that may be loaded.
packaging.before(Object.assign(async (ctx: Ctx) => {
  ctx.tmp = mkdtempSync(join(tmpdir(), 'ccs-pack-'));
  ctx.app = join(ctx.tmp, 'app');
  const tarballs = join(ctx.tmp, 'tarballs');
  mkdirSync(ctx.app);
  mkdirSync(tarballs);
  // `npm test` built dist/ already; --ignore-scripts keeps pack from rebuilding anything.
  const ours = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs, ...published.flatMap(({ dir }) => ['-w', dir])], ROOT);
  expectOk(ours, 'npm pack (workspaces)');
  ctx.packed = JSON.parse(ours.stdout) as Packed[];
  const external = externalDependencyDirs();
  const theirs = await npm(['pack', '--json', '--ignore-scripts', '--pack-destination', tarballs, ...external], ROOT);
  expectOk(theirs, 'npm pack (dependencies)');
  writeFileSync(join(ctx.app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }));
  const files = readdirSync(tarballs).map((f) => join(tarballs, f));
  const install = await npm(
    ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', '--cache', join(ctx.tmp, 'npm-cache'), ...files],
    ctx.app,
  );
  expectOk(install, 'npm install (from the tarballs)');
}, { timeoutMs: 600_000 }));

packaging.after((ctx) => {
  rmSync(ctx.tmp, { recursive: true, force: true });
});

packaging('every published package is packed, with LICENSE, README, package.json and dist/src, and no test files', (ctx) => {
  assert.equal(ctx.packed.map((p) => p.name).sort(), [...internal].sort());
  for (const p of ctx.packed) {
    const paths = new Set(p.files.map((f) => f.path));
    for (const f of ['LICENSE', 'README.md', 'package.json', 'dist/src/index.js', 'dist/src/index.d.ts']) {
      assert.ok(paths.has(f), `${p.name} ships ${f}`);
    }
    // Test helpers may ship (ccs's conformance suite is an export); test files never do.
    assert.not.ok([...paths].some((f) => /\.test\.(js|ts|d\.ts)$/.test(f)), `${p.name} ships no test files`);
  }
});

packaging('the installed manifests depend on each other by version range, not "*"', (ctx) => {
  for (const { pkg } of published) {
    const installed = readJson<Pkg>(join(ctx.app, 'node_modules', pkg.name, 'package.json'));
    for (const [name, range] of Object.entries(installed.dependencies ?? {})) {
      if (internal.has(name)) assert.is(range, `^${readJson<Pkg>(join(ctx.app, 'node_modules', name, 'package.json')).version}`, `${pkg.name} → ${name}`);
    }
  }
});

packaging('every source map names files that ship (js and d.ts maps)', (ctx) => {
  let maps = 0;
  for (const p of ctx.packed) {
    const dir = join(ctx.app, 'node_modules', p.name);
    for (const { path } of p.files.filter((f) => f.path.endsWith('.map'))) {
      const map = readJson<{ sources: string[]; sourceRoot?: string }>(join(dir, path));
      for (const source of map.sources) {
        const file = resolve(dirname(join(dir, path)), map.sourceRoot ?? '', source);
        assert.ok(existsSync(file), `${p.name}/${path} names ${source}, which is not in the package`);
      }
      maps++;
    }
  }
  assert.ok(maps > 0, 'the packages ship source maps');
});

packaging('each package and each of its subpath exports imports, and ./package.json resolves', async (ctx) => {
  const specifiers = published.flatMap(({ pkg }) => Object.keys(pkg.exports ?? { '.': '' }).filter((s) => s !== './package.json').map((s) => pkg.name + s.slice(1)));
  assert.ok(specifiers.length > published.length, 'ccs has subpath exports');
  const script = `
    import { createRequire } from 'node:module';
    const require = createRequire(import.meta.url);
    const out = {};
    for (const name of ${JSON.stringify([...internal])}) {
      out[name] = { version: require(require.resolve(name + '/package.json')).version };
    }
    for (const specifier of ${JSON.stringify(specifiers)}) out[specifier] = { ...out[specifier], exports: Object.keys(await import(specifier)).length };
    console.log(JSON.stringify(out));`;
  const r = await run(process.execPath, ['--input-type=module', '-e', script], ctx.app);
  expectOk(r, 'import');
  const out = JSON.parse(r.stdout) as Record<string, { exports: number; version: string }>;
  for (const { pkg } of published) assert.is(out[pkg.name]?.version, pkg.version);
  for (const specifier of specifiers) assert.ok((out[specifier]?.exports ?? 0) > 0, `${specifier} has exports`);
});

packaging('CommonJS loads the packages with import(), and with require() where Node can require ESM', async (ctx) => {
  writeFileSync(join(ctx.app, 'cjs.cjs'), `
    const names = ${JSON.stringify([...internal])};
    (async () => {
      const imported = [];
      for (const n of names) imported.push(Object.keys(await import(n)).length > 0);
      let required = 'unsupported';
      if (process.features.require_module) required = names.every((n) => Object.keys(require(n)).length > 0);
      console.log(JSON.stringify({ imported: imported.every(Boolean), required }));
    })();`);
  const r = await run(process.execPath, ['cjs.cjs'], ctx.app);
  expectOk(r, 'the CommonJS consumer');
  const out = JSON.parse(r.stdout) as { imported: boolean; required: boolean | string };
  assert.is(out.imported, true);
  if (out.required !== 'unsupported') assert.is(out.required, true);
});

packaging('each bin answers --help with its usage and exit code 0', async (ctx) => {
  const bins = published.flatMap(({ pkg }) => Object.keys(pkg.bin ?? {}));
  assert.ok(bins.length >= 2, 'ccs and ccs-emulator are bins');
  for (const bin of bins) {
    const r = await run(join(ctx.app, 'node_modules', '.bin', bin), ['--help'], ctx.app, 60_000);
    expectOk(r, `${bin} --help`);
    assert.match(r.stdout, /usage/i, `${bin} prints its usage`);
  }
});

const CONSUMER = `
import { CcsClient, CcsError, NackError, type CcsClientOptions, type SendResult } from '@ccs-xmpp/ccs';
import { CcsEmulator, type EmulatorEvent } from '@ccs-xmpp/emulator';
import { validateDownstream, type DownstreamMessage } from '@ccs-xmpp/stanza';
import { generateDevCertificate, StanzaParser } from '@ccs-xmpp/stream';
import { encodePlain, SaslError } from '@ccs-xmpp/sasl';

const emu = new CcsEmulator({ port: 0, devices: 1, seed: 1, keepaliveIntervalMs: 0 });
const events: string[] = [];
emu.on('event', (e: EmulatorEvent) => events.push(e.type));
await emu.start();
const options: CcsClientOptions = {
  senderId: '1234567890', apiKey: 'emulator-api-key', host: '127.0.0.1', port: emu.port,
  tls: { ca: emu.ca, servername: 'localhost' },
};
const client = new CcsClient(options);
try {
  await client.connect();
  const token = emu.deviceTokens('1234567890')[0];
  if (token === undefined) throw new Error('no device');
  const ack: SendResult = await client.send({ to: token, data: { hello: 'world' }, time_to_live: 60 });
  let nack = '';
  try {
    await client.send({ to: 'unregistered-x', data: {} });
  } catch (err) {
    if (err instanceof NackError) nack = err.nackCode;
    else if (err instanceof CcsError) nack = err.code;
  }
  const wire: DownstreamMessage = { to: token, message_id: 'm-1' };
  const problems = [validateDownstream(wire), validateDownstream({ ...wire, time_to_live: -1 })].map((e) => e?.reason ?? 'ok');
  const tools = [typeof generateDevCertificate, typeof StanzaParser, encodePlain('a', 'b').length > 0, SaslError.name];
  console.log(JSON.stringify({ ack: ack.messageId.length > 0, nack, problems, tools, events: events.length > 0 }));
} finally {
  await client.close({ timeoutMs: 5000 });
  await emu.stop();
}
`;

// A file that must NOT compile, checked in the same tsc run: proof that the consumer check can fail.
const WRONG = `
import { CcsClient } from '@ccs-xmpp/ccs';
declare const client: CcsClient;
await client.send({ to: 'x', priority: 'urgent' });
`;

// The consumer's compiler settings are a strict user's: everything the project itself uses, plus
// exactOptionalPropertyTypes, and no skipLibCheck so that the shipped .d.ts are checked too. One tsc
// run for both files (tsc costs seconds on a loaded machine); it still emits consumer.js.
async function compileConsumers(ctx: Ctx): Promise<Ran> {
  ctx.tsc ??= (async () => {
    writeFileSync(join(ctx.app, 'consumer.ts'), CONSUMER);
    writeFileSync(join(ctx.app, 'wrong.ts'), WRONG);
    writeFileSync(join(ctx.app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', lib: ['ES2023'], module: 'nodenext', moduleResolution: 'nodenext', strict: true,
        noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true, noImplicitReturns: true,
        noUnusedLocals: true, verbatimModuleSyntax: true, skipLibCheck: false, outDir: 'out',
        typeRoots: [join(ROOT, 'node_modules', '@types')], types: ['node'],
      },
      files: ['consumer.ts', 'wrong.ts'],
    }));
    return run(process.execPath, [TSC, '-p', 'tsconfig.json', '--pretty', 'false'], ctx.app);
  })();
  return ctx.tsc;
}

const errorLines = (r: Ran): string[] => r.stdout.split('\n').filter((l) => / error TS\d+/.test(l));

packaging('a strict TypeScript consumer type-checks against the shipped .d.ts and runs against the emulator', Object.assign(async (ctx: Ctx) => {
  const tsc = await compileConsumers(ctx);
  const ours = errorLines(tsc).filter((l) => !l.startsWith('wrong.ts('));
  assert.equal(ours, [], `tsc reports no error outside wrong.ts:\n${tsc.stdout}${tsc.stderr}`);
  const r = await run(process.execPath, ['out/consumer.js'], ctx.app, 60_000);
  expectOk(r, 'the consumer');
  assert.equal(JSON.parse(r.stdout), {
    ack: true, nack: 'DEVICE_UNREGISTERED', problems: ['ok', 'INVALID_TTL'],
    tools: ['function', 'function', true, 'SaslError'], events: true,
  });
}, { timeoutMs: 300_000 }));

packaging('the consumer check can fail: a wrong field type in send() is a compile error', Object.assign(async (ctx: Ctx) => {
  const tsc = await compileConsumers(ctx);
  assert.is.not(tsc.code, 0);
  assert.equal(errorLines(tsc).map((l) => /^wrong\.ts\((\d+),\d+\): error (TS\d+)/.exec(l)?.slice(1)), [['4', 'TS2322']], tsc.stdout);
}, { timeoutMs: 300_000 }));

packaging.run();
