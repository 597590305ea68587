/**
 * Generates bench/RESULTS.md and bench/charts/*.svg from bench/results/*.json (written by
 * bench/run.mjs). Every figure in RESULTS.md comes from the JSON; the hand-written analysis is
 * bench/ANALYSIS.md, which this never touches.
 *
 *   node bench/report.mjs
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sameRound, trimmedRatio } from './lib/client-stats.mjs';
import { describeRun, withContext } from './lib/run-context.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
const load = (name) => (existsSync(here(`./results/${name}.json`)) ? JSON.parse(readFileSync(here(`./results/${name}.json`), 'utf8')) : undefined);
const meta = load('meta') ?? { runs: [] };
/** Each benchmark's own run (date, Node, CPU, load): a section is dated by the run that produced its JSON, not by the latest run. */
const runs = new Map(meta.runs.map((r) => [r.name, withContext(r, meta)]));
mkdirSync(here('./charts'), { recursive: true });

const f0 = (x) => (typeof x !== 'number' || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US'));
const f1 = (x) => (typeof x !== 'number' || Number.isNaN(x) ? '–' : x.toFixed(1));
const f2 = (x) => (typeof x !== 'number' || Number.isNaN(x) ? '–' : x.toFixed(2));
const pct = (x) => (typeof x !== 'number' || Number.isNaN(x) ? '–' : `${(x * 100).toFixed(0)}%`);
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const verdict = (ok) => (ok ? '**met**' : 'not met');

const PALETTE = ['#4269d0', '#efb118', '#ff725c', '#6cc5b0', '#3ca951', '#ff8ab7', '#a463f2', '#97bbf5', '#9c6b4e', '#9498a0'];

/**
 * A horizontal grouped bar chart as SVG text.
 * @param {{ title: string, unit: string, groups: Array<{ label: string, bars: Array<{ series: string, value: number }> }>, note?: string | string[] }} c
 */
function barChart(c) {
  const series = [...new Set(c.groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const color = (s) => PALETTE[series.indexOf(s) % PALETTE.length];
  const max = Math.max(...c.groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))), 1e-9);
  const left = 170;
  const plotW = 460;
  const barH = 14;
  const gap = 10;
  let y = 40;
  const parts = [];
  for (const g of c.groups) {
    const h = g.bars.length * barH;
    parts.push(`<text x="${left - 8}" y="${y + h / 2 + 4}" text-anchor="end" font-size="12">${esc(g.label)}</text>`);
    for (const b of g.bars) {
      const w = Number.isFinite(b.value) ? Math.max(1, (b.value / max) * plotW) : 0;
      parts.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${color(b.series)}"><title>${esc(`${b.series}: ${b.value}`)}</title></rect>`);
      parts.push(`<text x="${left + w + 4}" y="${y + barH - 4}" font-size="10">${esc(formatValue(b.value))}</text>`);
      y += barH;
    }
    y += gap;
  }
  const legendY = y + 6;
  let lx = 10;
  const legend = series.map((s) => {
    const item = `<rect x="${lx}" y="${legendY}" width="10" height="10" fill="${color(s)}"/><text x="${lx + 14}" y="${legendY + 9}" font-size="11">${esc(s)}</text>`;
    lx += 24 + s.length * 6.2;
    return item;
  });
  const notes = c.note === undefined ? [] : Array.isArray(c.note) ? c.note : [c.note];
  const height = legendY + 24 + 14 * notes.length;
  const width = Math.max(left + plotW + 80, lx + 10, ...notes.map((n) => 20 + n.length * 5.6));
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14" font-weight="bold">${esc(c.title)}</text>
<text x="10" y="34" font-size="11" fill="#555">${esc(c.unit)}</text>
${parts.join('\n')}
${legend.join('\n')}
${notes.map((n, i) => `<text x="10" y="${height - 6 - 14 * (notes.length - 1 - i)}" font-size="10" fill="#555">${esc(n)}</text>`).join('\n')}
</svg>
`;
}

function formatValue(v) {
  if (!Number.isFinite(v)) return '–';
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(2);
}

/** A chart from the results of `bench` (a name, or several when it draws on several), its note naming their runs. */
function chart(bench, file, spec) {
  const names = Array.isArray(bench) ? bench : [bench];
  const note = names.length === 1 ? describeRun(runs.get(names[0])) : names.map((n) => `${n}: ${describeRun(runs.get(n))}`);
  writeFileSync(here(`./charts/${file}`), barChart({ ...spec, note }));
  return `![${spec.title}](charts/${file})`;
}

/** The line under a section's title: the run its figures come from, and the command. */
function runLine(bench) {
  const r = runs.get(bench);
  if (r === undefined) return '_Run: not recorded in bench/results/meta.json (the JSON was written outside `npm run bench`)._';
  return `_Run: ${describeRun(r)}; \`${r.command}\` (${r.seconds} s)._`;
}

const md = [];
md.push('# Benchmark results');
md.push('');
md.push('<!-- Generated by `npm run bench` (bench/run.mjs → bench/report.mjs) from bench/results/*.json. Do not edit: re-run. -->');
md.push('Generated by `npm run bench` from `bench/results/*.json` — do not edit by hand; the analysis of these figures is in');
md.push('[ANALYSIS.md](ANALYSIS.md). Re-generate the page alone with `node bench/report.mjs`.');
md.push('');
md.push('Each section is dated by its own run: `node bench/run.mjs --only NAME` re-runs some benchmarks and keeps the others\'');
md.push('figures with the date, Node version, CPU and load average of the run that produced them. The machine is shared, so every');
md.push('comparison below is between contenders measured in the same run, interleaved, and figures are medians; the load average');
md.push('(1 minute, at the start and the end of each benchmark) says how shared it was.');
md.push('');
md.push('| benchmark | run (UTC) | Node | CPU | load average | command |');
md.push('|---|---|---|---|---:|---|');
for (const r of runs.values()) {
  const load = r.loadAverageAtStart === undefined ? 'not recorded' : `${f1(r.loadAverageAtStart)} → ${f1(r.loadAverageAtEnd)}`;
  md.push(`| ${r.name} | ${String(r.date).slice(0, 16).replace('T', ' ')}${r.quick ? ' (--quick)' : ''} | ${r.node} | ${r.cores}× ${r.cpu} | ${load} | \`${r.command}\` (${r.seconds} s) |`);
}
md.push('');

// ---- stream parser ----
const sp = load('stream-parse');
if (sp) {
  md.push('## Stream parser');
  md.push('');
  md.push(runLine('stream-parse'));
  md.push('');
  md.push(`${sp.stanzas} stanzas of the CCS inbound mix (\`bench/lib/ccs-mix.mjs\`, ${(sp.bytes / 1e6).toFixed(2)} MB), fed in 16 KiB and in 400-byte chunks; every`);
  md.push(`contender extracts each gcm payload and \`JSON.parse\`s it (the client inbound path: the canonical ACK's id read without it). ${sp.rounds}`);
  const cpuClock = sp.clock === 'cpu';
  md.push(`interleaved rounds of ~${sp.sliceMs} ms ${cpuClock ? 'of CPU time (`process.cpuUsage`: on a shared machine wall time also counts other processes\' turns)' : ''} per contender; ratios are per round, then the median.${sp.order === 'fair' ? ' Odd rounds run the order backwards, so that no contender always follows the same one.' : ''}`);
  md.push('');
  md.push(`| contender | chunks | ${cpuClock ? 'stanzas per CPU second' : 'stanzas/s'} | ${cpuClock ? 'MB per CPU second' : 'MB/s'} | of the indexOf ceiling | × xmpp.js | payloads |`);
  md.push('|---|---:|---:|---:|---:|---:|---|');
  for (const r of sp.results) md.push(`| ${r.name} | ${r.chunkSize === 400 ? '400 B' : `${r.chunkSize / 1024} KiB`} | ${f0(r.stanzasPerSec)} | ${f1(r.mbPerSec)} | ${pct(r.vsCeiling)} | ${f2(r.vsPeer)}× | ${r.correctness} |`);
  md.push('');
  const get = (name, size) => sp.results.find((r) => r.name === name && r.chunkSize === size);
  md.push('| target (issue 14) | 16 KiB | 400 B | |');
  md.push('|---|---:|---:|---|');
  for (const [label, name, min] of [['gcm shortcut ≥ 95% of the ceiling', 'ccs-xmpp, gcm shortcut', 0.95], ['elements ≥ 85% of the ceiling', 'ccs-xmpp, elements', 0.85], ['client inbound path ≥ 110% of the ceiling', 'ccs-xmpp, client inbound path', 1.1]]) {
    const a = get(name, 16384)?.vsCeiling;
    const b = get(name, 400)?.vsCeiling;
    md.push(`| ${label} | ${pct(a)} | ${pct(b)} | ${verdict(a >= min && b >= min)} |`);
  }
  md.push('');
  md.push(chart('stream-parse', 'stream-parse.svg', {
    title: 'Stream parser: stanzas/s by chunk size',
    unit: `stanzas per ${sp.clock === 'cpu' ? 'CPU ' : ''}second, median of interleaved rounds (higher is better)`,
    groups: [16384, 400].map((size) => ({ label: size === 400 ? '400-byte chunks' : '16 KiB chunks', bars: sp.results.filter((r) => r.chunkSize === size).map((r) => ({ series: r.name, value: r.stanzasPerSec })) })),
  }));
  md.push('');
}

// ---- tricks ----
const tr = load('shortcut-tricks');
if (tr) {
  md.push('## Hot-path tricks, A/B (`bench/micro/shortcut-tricks.mjs`)');
  md.push('');
  md.push(runLine('shortcut-tricks'));
  md.push('');
  md.push('The whole parser with the GCM shortcut, every payload `JSON.parse`d, with one trick taken out of the built shortcut at a time,');
  md.push(`interleaved with the original (${tr.rounds} rounds${tr.clock === 'cpu' ? ', slices timed by CPU time' : ''}). Below 100%: the trick pays for itself.`);
  md.push('');
  md.push('| without … | 16 KiB chunks | 400 B chunks |');
  md.push('|---|---:|---:|');
  for (const name of [...new Set(tr.results.map((r) => r.trick))].filter((n) => n !== 'original')) {
    const at = (size) => tr.results.find((r) => r.trick === name && r.chunkSize === size)?.withoutOverWith;
    md.push(`| ${name} | ${pct(at(16384))} | ${pct(at(400))} |`);
  }
  md.push('');
  md.push(chart('shortcut-tricks', 'shortcut-tricks.svg', {
    title: 'Each trick taken out: rate relative to the original',
    unit: 'without the trick / with it, median of per-round ratios (below 1: the trick helps)',
    groups: [...new Set(tr.results.map((r) => r.trick))].filter((n) => n !== 'original').map((name) => ({
      label: name.length > 26 ? `${name.slice(0, 25)}…` : name,
      bars: [16384, 400].map((size) => ({ series: size === 400 ? '400 B' : '16 KiB', value: tr.results.find((r) => r.trick === name && r.chunkSize === size)?.withoutOverWith })),
    })),
  }));
  md.push('');
}

// ---- stanza codec ----
const sc = load('stanza-codec');
if (sc) {
  md.push('## Stanza codec (`bench/stanza-codec.mjs`)');
  md.push('');
  md.push(runLine('stanza-codec'));
  md.push('');
  md.push(`${sc.count} stanzas of the mix; benchmark.js, the median sample, in ns per stanza.`);
  md.push('');
  md.push('| benchmark | ns/stanza |');
  md.push('|---|---:|');
  for (const r of [...sc.results, ...(sc.socket ?? [])]) md.push(`| ${r.name} | ${f0(r.nsPerStanza)} |`);
  md.push('');
}

// ---- client alone ----
const cc = load('ccs-client');
if (cc) {
  // The judged share of a row (bench/lib/client-stats.mjs `trimmedRatio`): the per-round ratios' geometric mean without
  // the lowest and the highest round, recomputed from the measurements the file keeps, so that every file is read alike.
  const judged = (s, ref = 'trivial') => {
    const at = (client) => cc.throughput.filter((r) => r.client === client && r.maxPending === s.maxPending && r.connections === s.connections);
    return trimmedRatio(sameRound(at(s.client), at(ref), (r) => r.msgsPerSec));
  };
  const judgedText = (j) => (j.tooFew ? `too few rounds (${j.rounds})` : `${pct(j.value)} (${j.kept} of ${j.rounds})`);
  md.push('## The client alone, against a stub CCS (`bench/ccs-client.mjs`)');
  md.push('');
  md.push(runLine('ccs-client'));
  md.push('');
  md.push('A stub CCS (`bench/lib/stub-ccs.mjs`, its own process: the real TLS + SASL + bind handshake, then a pre-encoded ACK per');
  md.push('message) so that the figures are the client\'s. `trivial` is a hand-rolled client (template strings, `indexOf` ACK scan,');
  md.push(`\`bench/lib/trivial-ccs-client.mjs\`): the ceiling. Queue driver (\`trySend\`${cc.summary.some((s) => s.client.endsWith('-dispatch')) ? ' or `dispatch`' : ''} until refused, then \`waitForCapacity()\`; maxQueued ${f0(cc.maxQueued ?? 10_000)}), one`);
  const warmupCap = cc.warmupCpuMs > 0 ? ` (in runs shaped like the timed one, or for ${f0(cc.warmupCpuMs)} ms of the client's CPU if that comes first: the rows' median under "warm-up")` : '';
  md.push(`recipient token; ${f0(cc.n)} messages timed after ${f0(cc.warmup)} of warm-up${warmupCap}, ${cc.rounds} round(s)${cc.xmppjsRounds !== undefined && cc.xmppjsRounds < cc.rounds ? ` (the xmpp.js client in ${cc.xmppjsRounds} of them, spread over the run)` : ''}, each a fresh client process; CPU is the`);
  md.push('client process\'s user + system time over the timed run. "of trivial" is the per-round ratio.');
  if (cc.warmupCpuMs > 0) {
    md.push('The warm-up is that long, and shaped like the timed run, so that V8 has finished optimising the hot path before the');
    md.push('window opens: with one 50 000-message run before, the window still held ~25 TurboFan compilations and a deoptimisation of');
    md.push('the driver (work on V8\'s helper threads, which the process\'s CPU counts), and fresh processes of one build read 4.1–5.9');
    md.push('µs/msg at 1000 × 1 (bench/ANALYSIS.md, eighth pass). The same rule for every contender; the CPU cap binds on the xmpp.js');
    md.push('client, seldom on the others (the "warm-up" column says).');
  }
  if (cc.summary.some((s) => s.client === 'floor')) {
    md.push('`floor` is the API floor (`bench/lib/floor-ccs-client.mjs`): the least any client with `CcsClient`\'s promise API must do');
    md.push('per message — serialise the caller\'s object with a generated id (`CcsClient`\'s own plain-JSON writer, cheaper than');
    md.push('`JSON.stringify`), one promise per send settled from its ACK with a `SendResult` (the id and the ACK\'s `from`), a');
    md.push('bounded queue behind the windows (`trySend` / `waitForCapacity`, driven like `CcsClient`) — and nothing else (no validation, copy, resend, NACK, timeout, reconnect or stats). Its share of the');
    md.push('trivial client\'s rate is what the API itself leaves of the ceiling.');
    if (cc.summary.some((s) => s.client === 'floor-stringify')) md.push('`floor-stringify` is the same with `JSON.stringify` and a template string per stanza.');
    if (cc.summary.some((s) => s.client === 'floor-map')) md.push('`floor-map` is the same with a `Map` as its in-flight table instead of a hash table of its own.');
  }
  const hasDispatch = cc.summary.some((s) => s.client === 'ccs-dispatch');
  if (hasDispatch) {
    md.push('`ccs-dispatch` is `CcsClient` sent to with `dispatch(message, callback)`, the promise-free send: `false` when the queue is');
    md.push('full (then `waitForCapacity()`, as `trySend`\'s `undefined`), and `callback(error, result)` called once, later, with the');
    md.push('same `SendResult` — driven like `ccs`, with one callback shared by every send. It exists because a promise per pending');
    md.push('message and the caller\'s `then` on it are ~256 B of what survives a scavenge (160 + 96 B, bench/ANALYSIS.md, ninth pass): an');
    md.push('application that counts or logs its ACKs needs neither.');
  }
  if (cc.summary.some((s) => s.client === 'floor-dispatch')) {
    md.push('`floor-dispatch` is the API floor with that API (`dispatch(message, callback)`, the callback kept where `floor` keeps a');
    md.push('promise\'s resolve): the least any client with `dispatch` must do per message. `ccs-dispatch` is held against it, `ccs`');
    md.push('against `floor`.');
  }
  if (cc.summary.some((s) => s.client === 'ccs-shallow')) {
    md.push('`ccs-shallow` is `CcsClient` with a queue one window deep (maxQueued = maxPending); the trivial client queues nothing');
    md.push('(it makes each message when a slot frees). The targets are judged on `ccs`.');
  }
  md.push('');
  // Older results carry medians only; newer ones the quartiles over rounds too.
  const iqr = (q, f) => (Array.isArray(q) ? ` (${f(q[0])}–${f(q[1])})` : '');
  md.push('Medians over the rounds, the interquartile range in brackets (of trivial, CPU × trivial: of the per-round ratios). Allocated: bytes');
  md.push('allocated on the JS heap per message over the timed run (V8\'s per-GC heap statistics, every object counted). Stub busy:');
  md.push('the stub\'s CPU per message × the rate, its share of one core — near 100% the stub would set the rate, not the client.');
  const split = cc.summary.some((s) => s.mainCpuUsPerMsg !== undefined);
  if (split) {
    md.push('Main + others: the client\'s CPU per message on its main thread and on all its other threads (V8\'s compilers and GC');
    md.push('helpers, libuv), from /proc schedstat. Preempted: how often the main thread was switched out for another runnable thread in');
    md.push('the timed window (median over rounds) — in the hundreds, something else wanted its CPU and the figures are less trustworthy.');
  }
  const canary = cc.summary.some((s) => s.canaryMs !== undefined);
  if (canary) {
    md.push('Slow rounds: how many of the row\'s rounds ran in one of the machine\'s slow episodes (seconds to tens of seconds in which');
    md.push('JS runs 1.6–1.7× slower in every process of the VM at once, the stub included; bench/ANALYSIS.md, ninth pass), told by a');
    md.push('fixed piece of JS timed right after the window that read ≥ 1.3× the run\'s fastest. A gauge of the moments around the');
    md.push('window more than of the window: the speed also changes within a second, and the readings just before and just after a');
    md.push('window agree poorly (bench/ANALYSIS.md, fifteenth pass).');
  }
  md.push('Of trivial, judged: the figure the 60% target is judged by — the geometric mean of the per-round ratios without the');
  md.push('lowest and the highest round, with how many rounds it rests on (of those that gave a ratio; fewer than 5: no figure).');
  md.push('Each round\'s ratio is a noisy draw: the machine\'s speed flickers in 0.1–1 s spells, each window catches a different');
  md.push('share of them, and too few rounds run wholly at one speed to keep only those (bench/ANALYSIS.md, fifteenth pass). The');
  md.push('median of all rounds, its interquartile range in brackets, is the column before it.');
  const multi = cc.throughput.some((r) => Array.isArray(r.runs));
  if (multi) {
    md.push(`Each process timed runs of ${f0(cc.n)} messages back to back for ${f0(cc.timedMs)} ms (at least one); its msgs/s and CPU per message are the`);
    md.push('medians of its runs.');
  }
  md.push('');
  const extra = `${split ? ' main + others µs/msg | preempted | warm-up |' : ''}${canary ? ' slow rounds |' : ''}`;
  md.push(`| maxPending | connections | client | acked msgs/s | of trivial | of trivial, judged (rounds) | client CPU µs/msg | CPU × trivial | allocated B/msg | stub CPU µs/msg | stub busy |${extra}`);
  md.push(`|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|${split ? '---:|---:|---:|' : ''}${canary ? '---:|' : ''}`);
  for (const s of cc.summary) {
    const more = `${split ? ` ${f2(s.mainCpuUsPerMsg)} + ${f2(s.otherThreadsCpuUsPerMsg)} | ${f0(s.involuntarySwitches)} | ${f0(s.warmed)} |` : ''}${canary ? ` ${s.slowRounds} of ${s.rounds} |` : ''}`;
    md.push(`| ${s.maxPending} | ${s.connections} | ${s.client} | ${f0(s.msgsPerSec)}${iqr(s.msgsPerSecQ, f0)} | ${pct(s.vsTrivial)}${iqr(s.vsTrivialQ, pct)} | ${s.client === 'trivial' ? '–' : judgedText(judged(s))} | ${f2(s.cpuUsPerMsg)}${iqr(s.cpuUsPerMsgQ, f2)} | ${s.cpuVsTrivial === undefined ? '–' : `${f2(s.cpuVsTrivial)}×${iqr(s.cpuVsTrivialQ, f2)}`} | ${f0(s.allocBytesPerMsg)} | ${f2(s.stubCpuUsPerMsg)} | ${pct(s.stubBusy)} |${more}`);
  }
  md.push('');
  if (cc.scaling?.length) {
    md.push(`From ${cc.scaling[0].from} to ${cc.scaling[0].to} connections (same client, same window, within each round; median and interquartile range):`);
    md.push('');
    md.push(`| maxPending | client | msgs/s at ${cc.scaling[0].to} of at ${cc.scaling[0].from} | CPU µs/msg at ${cc.scaling[0].to} of at ${cc.scaling[0].from} |`);
    md.push('|---:|---|---:|---:|');
    for (const x of cc.scaling) md.push(`| ${x.maxPending} | ${x.client} | ${pct(x.rate)}${iqr(x.rateQ, pct)} | ${pct(x.cpu)}${iqr(x.cpuQ, pct)} |`);
    md.push('');
  }
  for (const [client, label] of [['ccs', '`CcsClient`\'s'], ['ccs-dispatch', '`CcsClient.dispatch`\'s']]) {
    const warm = cc.summary.filter((s) => s.client === client && Array.isArray(s.cpuUsPerMsgQuarters));
    if (warm.length === 0) continue;
    const h = (i) => warm.map((s) => f2(s.cpuUsPerMsgQuarters[i])).join(', ');
    md.push(`Warm-up check: ${label} CPU per message over the second quarter of the timed messages ${h(0)}, over the third ${h(1)}`);
    md.push('(row by row, medians): the second well above the third would mean the figures still hold part of the warm-up.');
    md.push('');
  }
  const idle = Object.fromEntries(cc.idle.map((r) => [r.client, r.bytesPerConnection]));
  const idleExt = Object.fromEntries(cc.idle.map((r) => [r.client, r.externalBytesPerConnection]));
  const mem = Object.fromEntries(cc.memory.map((r) => [r.client, r.bytesPerPending]));
  // A column per contender the run measured memory for (older JSON has no API floor, none has the dispatch ones).
  const memCols = [['trivial', 'trivial'], ['floor', 'API floor'], ['floor-dispatch', 'API floor, dispatch()'], ['ccs', '`CcsClient`'], ['ccs-dispatch', '`CcsClient`, dispatch()'], ['xmppjs', 'xmpp.js']]
    .filter(([c]) => c === 'trivial' || c === 'ccs' || c === 'xmppjs' || cc.idle.some((r) => r.client === c) || cc.memory.some((r) => r.client === c));
  const memRow = (label, of, pending = false) => `| ${label} |${memCols.map(([c]) => ` ${pending && c === 'trivial' ? '–' : f0(of[c])} |`).join('')}`;
  md.push(`| memory |${memCols.map(([, l]) => ` ${l} |`).join('')}`);
  md.push(`|---|${memCols.map(() => '---:|').join('')}`);
  md.push(memRow('heap per idle connection (1 → 17 connections), bytes', idle));
  if (cc.idle.some((r) => r.externalBytesPerConnection !== undefined)) md.push(memRow('outside the heap (Buffers) per idle connection, bytes', idleExt));
  md.push(memRow('heap per pending message (2 000 → 12 000, never ACKed), bytes', mem, true));
  md.push('');
  // The targets, for CcsClient through each API the run measured: send() (a promise per message) and dispatch() (a
  // callback). Each on its own line with its own worst row, so that neither API's figure stands for the other's.
  const apis = [['ccs', '`send()`, a promise'], ['ccs-dispatch', '`dispatch()`, a callback']].filter(([c]) => cc.summary.some((s) => s.client === c));
  const rowsOf = (client) => cc.summary.filter((s) => s.client === client);
  md.push('| target (issue 14) | API | reached | |');
  md.push('|---|---|---:|---|');
  for (const [client, api] of apis) {
    const rs = rowsOf(client);
    // Judged by the trimmed per-round mean ("of trivial, judged"); the all-rounds median of the same row beside it. A row
    // with too few rounds for the judged figure leaves the target unjudged rather than met.
    const js = rs.map((s) => ({ s, j: judged(s) }));
    const unjudged = js.filter((x) => x.j.tooFew);
    const low = js.filter((x) => !x.j.tooFew).reduce((a, b) => (a === undefined || b.j.value < a.j.value ? b : a), undefined);
    // The same comparison per CPU second of the client (the inverse of the per-round CPU ratio): the load disturbs it far
    // less than wall-clock msgs/s, which also depends on when the stub and the client get a core.
    const cpuRatios = rs.map((s) => s.cpuVsTrivial).filter((x) => typeof x === 'number' && !Number.isNaN(x));
    const perCpu = cpuRatios.length ? `; per client CPU second: ${pct(1 / Math.max(...cpuRatios))}–${pct(1 / Math.min(...cpuRatios))} by row` : '';
    const reached = low === undefined ? 'too few rounds in every row'
      : `${pct(low.j.value)} (lowest row, ${low.s.maxPending} × ${low.s.connections}: ${low.j.kept} of ${low.j.rounds} rounds; all-rounds median ${pct(low.s.vsTrivial)}${perCpu})${unjudged.length ? `; too few rounds in ${unjudged.map((x) => `${x.s.maxPending} × ${x.s.connections}`).join(', ')}` : ''}`;
    const ok = low !== undefined && unjudged.length === 0 && low.j.value >= 0.6;
    md.push(`| \`CcsClient\` ≥ 60% of the trivial client's msgs/s (every row; judged by the per-round ratios' mean without the lowest and the highest round) | ${api} | ${reached} | ${unjudged.length ? 'not judged' : verdict(ok)} |`);
  }
  for (const [client, api] of apis) {
    const maxCpu = Math.max(...rowsOf(client).map((s) => s.cpuUsPerMsg));
    md.push(`| client CPU ≤ 4 µs/msg (every row) | ${api} | ${f2(maxCpu)} (highest row) | ${verdict(maxCpu <= 4)} |`);
  }
  for (const [client, api] of apis) {
    // A run without the memory mode (--no-memory) has no figure: not met, rather than a blank that reads as met.
    md.push(`| ≤ 512 B per pending message | ${api} | ${f0(mem[client])} | ${verdict(mem[client] <= 512)} |`);
  }
  // Idle connections hold no message: one client whichever API sends. When both ran, the worse of the two readings.
  const idleOf = (c) => (idle[c] === undefined ? undefined : idle[c] + (idleExt[c] ?? 0));
  const idleRuns = apis.map(([c]) => idleOf(c)).filter((x) => x !== undefined);
  const idleAll = idleRuns.length ? Math.max(...idleRuns) : NaN;
  const idleApi = idleRuns.length > 1 ? 'either (the worse of its two runs)' : 'either';
  md.push(`| ≤ 64 KiB per idle connection (heap${idleExt.ccs === undefined ? '' : ' + outside it'}) | ${idleApi} | ${f0(idleAll)} | ${verdict(idleAll <= 65536)} |`);
  for (const [client, api] of apis) {
    const scale = cc.scaling?.filter((x) => x.client === client) ?? [];
    if (scale.length) {
      const low = Math.min(...scale.map((x) => x.rate));
      md.push(`| throughput does not fall as connections grow (${scale[0].to} vs ${scale[0].from}, per-round median within 10%) | ${api} | ${pct(low)} (lowest window) | ${verdict(low >= 0.9)} |`);
    } else {
      const byConn = (mp) => cc.summary.filter((s) => s.client === client && s.maxPending === mp).map((s) => s.msgsPerSec);
      const flat = [100, 1000].every((mp) => {
        const xs = byConn(mp);
        return xs[xs.length - 1] >= 0.9 * xs[0];
      });
      md.push(`| throughput does not fall as connections grow (16 vs 1, within 10%) | ${api} | | ${verdict(flat)} |`);
    }
  }
  md.push('');
  // Whether the 60% target is within reach of any client with each API: the API floor's own share of the trivial
  // client's rate, row by row, and CcsClient's share of its API's floor (both per-round ratios, medians).
  // Rounded down: a row listed as below 60% must not read "60.0%" (59.98% did).
  const share = (x) => (typeof x === 'number' && !Number.isNaN(x) ? `${(Math.floor(x * 1000) / 10).toFixed(1)}%` : '–');
  const floors = [
    ['floor', 'ccs', 'The API floor (`floor`: the least any client with `send()` and its promise does per message)', '`CcsClient` through `send()`'],
    ['floor-dispatch', 'ccs-dispatch', 'The floor of the dispatch API (`floor-dispatch`: the least any client with `dispatch()` and its callback does per message)', '`CcsClient` through `dispatch()`'],
  ];
  for (const [floorClient, client, name, whose] of floors) {
    const floor = rowsOf(floorClient);
    if (floor.length === 0) continue;
    // The floor's share judged as CcsClient's is (the trimmed per-round mean), the all-rounds median beside it.
    const fj = floor.map((s) => ({ s, j: judged(s) })).filter((x) => !x.j.tooFew);
    if (fj.length === 0) {
      md.push(`${name}: too few rounds for a judged share in every row.`);
      md.push('');
      continue;
    }
    const low = fj.reduce((a, b) => (b.j.value < a.j.value ? b : a));
    const floorCpu = floor.map((s) => s.cpuVsTrivial).filter((x) => typeof x === 'number' && !Number.isNaN(x));
    const perCpuFloor = floorCpu.length ? `; per client CPU second ${pct(1 / Math.max(...floorCpu))}–${pct(1 / Math.min(...floorCpu))} by row` : '';
    const below = fj.filter((x) => x.j.value < 0.6).map((x) => `${x.s.maxPending} × ${x.s.connections} (${share(x.j.value)}; median ${share(x.s.vsTrivial)})`);
    md.push(`${name} reaches ${pct(low.j.value)} of the trivial client's`);
    md.push(`msgs/s in its lowest row (${low.s.maxPending} × ${low.s.connections}, judged as above; all-rounds median ${pct(low.s.vsTrivial)})${perCpuFloor}. ${below.length ? `Below 60% in ${below.join(', ')}: in those rows the API alone, with nothing of \`CcsClient\`'s, already misses the 60% target.` : 'It is at or above 60% in every row.'}`);
    // Per-round ratios where the run recorded them against this floor; older runs: CcsClient's share of trivial over the floor's.
    const rs = rowsOf(client);
    const perRound = rs.length > 0 && rs.every((s) => typeof s.vsFloor === 'number' && (s.floorClient ?? 'floor') === floorClient);
    const ofFloor = rs.map((s) => {
      if (perRound) return s.vsFloor;
      const f = floor.find((x) => x.maxPending === s.maxPending && x.connections === s.connections);
      return f === undefined ? NaN : s.vsTrivial / f.vsTrivial;
    }).filter((x) => !Number.isNaN(x));
    if (ofFloor.length) md.push(`${whose} reaches ${pct(Math.min(...ofFloor))}–${pct(Math.max(...ofFloor))} of \`${floorClient}\`'s msgs/s by row (${perRound ? 'medians of the per-round ratios' : 'its share of trivial over the floor\'s'}).`);
    md.push('');
  }
  md.push(chart('ccs-client', 'client-throughput.svg', {
    title: 'The client alone: acked msgs/s by window and connections',
    unit: 'acked messages per second against the stub CCS, median (higher is better)',
    groups: cc.summary.filter((s) => s.client === 'trivial').map((t) => ({
      label: `maxPending ${t.maxPending}, ${t.connections} conn.`,
      bars: cc.summary.filter((s) => s.maxPending === t.maxPending && s.connections === t.connections).map((s) => ({ series: s.client, value: s.msgsPerSec })),
    })),
  }));
  md.push('');
  md.push(chart('ccs-client', 'client-cpu.svg', {
    title: 'The client alone: client CPU per message',
    unit: 'µs of client process CPU (user + system) per acked message, median (lower is better)',
    groups: cc.summary.filter((s) => s.client === 'trivial').map((t) => ({
      label: `maxPending ${t.maxPending}, ${t.connections} conn.`,
      bars: cc.summary.filter((s) => s.maxPending === t.maxPending && s.connections === t.connections).map((s) => ({ series: s.client, value: s.cpuUsPerMsg })),
    })),
  }));
  md.push('');
}

// ---- end to end against the emulator ----
const e2e = load('ccs-e2e');
if (e2e) {
  md.push('## End to end against the emulator (`bench/ccs-e2e.mjs`)');
  md.push('');
  md.push(runLine('ccs-e2e'));
  md.push('');
  // The contenders this run measured, `CcsClient`'s first (through `send()`, then `dispatch()`), the xmpp.js client, the
  // ratios' reference, last. Runs before `ccs-dispatch` existed measured `send()` alone and are labelled as before.
  const e2eOrder = ['ccs', 'ccs-dispatch', 'ccs-traced', 'ccs-base'];
  const e2eClients = [...new Set([...e2e.throughput, ...(e2e.memory ?? [])].map((r) => r.client))]
    .sort((a, b) => (a === 'xmppjs') - (b === 'xmppjs') || (e2eOrder.indexOf(a) + 1 || 99) - (e2eOrder.indexOf(b) + 1 || 99));
  const e2eDispatch = e2eClients.includes('ccs-dispatch');
  const E2E_LABEL = e2eDispatch ? { ccs: '`CcsClient`, `send()`', 'ccs-dispatch': '`CcsClient`, `dispatch()`', xmppjs: 'xmpp.js' } : { ccs: '`CcsClient`', xmppjs: 'xmpp.js' };
  const E2E_SERIES = e2eDispatch ? { ccs: 'CcsClient, send()', 'ccs-dispatch': 'CcsClient, dispatch()', xmppjs: 'xmpp.js' } : { ccs: 'CcsClient', xmppjs: 'xmpp.js' };
  const e2eLabel = (client) => E2E_LABEL[client] ?? client;
  const e2eSeries = (client) => E2E_SERIES[client] ?? client;
  if (e2e.warmupCpuMs !== undefined) {
    // Since 2026-12-02 (ANALYSIS.md, ninth pass): bench/lib/run-meter.mjs `warmUp`, the rule of bench/ccs-client.mjs.
    const cap = e2e.warmupCpuMs > 0 ? `, or for ${f0(e2e.warmupCpuMs)} ms of the client's CPU if that comes first` : '';
    md.push(`\`CcsClient\`${e2eDispatch ? ' (through each send API)' : ''} and the xmpp.js client against the emulator (separate processes, TLS loopback), ${f0(e2e.n)} messages timed after a warm-up of`);
    md.push(`runs shaped exactly like the timed one (${f0(e2e.n)} messages each, the same driver and settlement callback) until ${f0(e2e.warmup)} messages${cap},`);
    md.push(`${e2e.rounds} round(s); both processes' CPU per message (the emulator's from /proc, over the whole run). The warm-up is that long, and`);
    md.push('shaped like the timed run, so that V8 has finished optimising before the window opens: with one 50 000-message run without the');
    md.push('callback before, the window held 19–34 TurboFan compilations and 2–5 deoptimisations (the driver\'s callback at its first call);');
    md.push('with 300 000 (`npm run bench`), 0–7 and none (`--trace-opt --trace-deopt`, bench/ANALYSIS.md, ninth pass). The same rule for');
    md.push('every contender.');
  } else {
    md.push(`\`CcsClient\` and the xmpp.js client against the emulator (separate processes, TLS loopback), ${f0(e2e.n)} messages after ${f0(e2e.warmup)} of warm-up`);
    md.push(`(one run without the settlement callback), ${e2e.rounds} round(s); both processes' CPU per message (the emulator's from /proc, over the whole run).`);
  }
  md.push('');
  // Which API each contender sent with, and what each driver does with it.
  md.push(e2eDispatch
    ? 'Two drivers: `queue` keeps the client\'s queue fed — `trySend()` (in the `dispatch()` rows, `dispatch()`) until refused, then'
    : 'Two drivers: `queue` keeps the client\'s queue fed — `trySend()` until refused, then');
  md.push('`waitForCapacity()`, one settlement callback shared by every message (throughput only); `window` keeps exactly maxPending messages');
  md.push(e2eDispatch
    ? 'outstanding, one new send per settlement, and times each from its send to its ACK (send()→ACK, dispatch()→callback): the ACK latency the application sees.'
    : 'outstanding, one new send per ACK, and times each from send() to its ACK: the ACK latency the application sees.');
  if (e2eDispatch) {
    md.push('`CcsClient`, `dispatch()` is the promise-free send (`dispatch(message, callback)`: `false` when the queue is full, the');
    md.push('callback called once with what `send()` would settle with); every other contender sends through a promise per message.');
  } else {
    md.push('`CcsClient` sent through `send()` / `trySend()`, a promise per message.');
  }
  md.push('');
  const median = (xs) => {
    const s = xs.filter((x) => typeof x === 'number' && !Number.isNaN(x)).sort((a, b) => a - b);
    if (s.length === 0) return NaN;
    const m = s.length >> 1;
    return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
  };
  // Runs that recorded it: the client's CPU per message over the second and the third quarter of the timed messages —
  // the second well above the third would mean the warm-up was too short.
  const halves = e2e.throughput.some((r) => r.cpuUsPerMsgQ2 !== undefined);
  if (halves) {
    md.push('Warm-up check: the client\'s CPU per message over the second and the third quarter of the timed messages (medians);');
    md.push('the second well above the third would mean the figure still holds part of the warm-up.');
    md.push('');
  }
  // Runs since the ninth pass: the client's CPU split by thread, its main thread's preemptions and the warm-up it had.
  const split = e2e.throughput.some((r) => r.mainCpuUsPerMsg !== undefined);
  if (split) {
    md.push('Main + others: the client\'s CPU per message on its main thread and on all its other threads (V8\'s compilers and GC helpers,');
    md.push('libuv), from /proc schedstat; preempted: how often its main thread was switched out in the timed window; warm-up: the');
    md.push('messages it had before (medians over rounds).');
    md.push('');
  }
  // ACK latency (window driver only): the per-message send()→ACK (dispatch()→callback) times, p50 / p99, medians over rounds.
  const latency = e2e.throughput.some((r) => r.latency !== undefined);
  if (latency) {
    md.push('ACK latency: the window driver\'s per-message time from send to ACK (p50 / p99 within each run, medians over rounds); the');
    md.push('queue driver\'s would include the time in the queue and is not reported.');
    md.push('');
  }
  md.push(`| maxPending | driver | client | acked msgs/s | × xmpp.js | client CPU µs/msg |${halves ? ' quarter 2 / 3 |' : ''}${split ? ' main + others µs/msg | preempted | warm-up |' : ''} emulator CPU µs/msg |${latency ? ' ACK latency p50 / p99 ms |' : ''}`);
  md.push(`|---:|---|---|---:|---:|---:|${halves ? '---:|' : ''}${split ? '---:|---:|---:|' : ''}---:|${latency ? '---:|' : ''}`);
  const rows = [];
  for (const maxPending of [...new Set(e2e.throughput.map((r) => r.maxPending))]) {
    for (const driver of [...new Set(e2e.throughput.map((r) => r.driver))]) {
      const pick = (client) => e2e.throughput.filter((r) => r.client === client && r.maxPending === maxPending && r.driver === driver);
      const base = median(pick('xmppjs').map((r) => r.msgsPerSec));
      for (const client of e2eClients) {
        const rs = pick(client);
        if (rs.length === 0) continue;
        const rate = median(rs.map((r) => r.msgsPerSec));
        rows.push({ maxPending, driver, client, rate });
        const half = halves ? ` ${f2(median(rs.map((r) => r.cpuUsPerMsgQ2)))} / ${f2(median(rs.map((r) => r.cpuUsPerMsgQ3)))} |` : '';
        const more = split ? ` ${f2(median(rs.map((r) => r.mainCpuUsPerMsg)))} + ${f2(median(rs.map((r) => r.otherThreadsCpuUsPerMsg)))} | ${f0(median(rs.map((r) => r.involuntarySwitches)))} | ${f0(median(rs.map((r) => r.warmed)))} |` : '';
        const lat = latency ? ` ${driver === 'window' ? `${f2(median(rs.map((r) => r.latency?.p50)))} / ${f2(median(rs.map((r) => r.latency?.p99)))}` : '–'} |` : '';
        md.push(`| ${maxPending} | ${driver} | ${e2eLabel(client)} | ${f0(rate)} | ${f2(rate / base)}× | ${f2(median(rs.map((r) => r.cpuUsPerMsg)))} |${half}${more} ${f2(median(rs.map((r) => r.emulatorCpuUsPerMsg)))} |${lat}`);
      }
    }
  }
  md.push('');
  if (e2e.memory?.length) {
    md.push('| client | messages | heap bytes / message | external bytes / message |');
    md.push('|---|---|---:|---:|');
    for (const r of e2e.memory) md.push(`| ${e2eLabel(r.client)} | ${r.kind === 'inflight' ? 'pending (written, un-ACKed)' : 'queued (waiting for the window)'} | ${f0(r.heapBytesPerMsg)} | ${f0(r.externalBytesPerMsg)} |`);
    md.push('');
  }
  md.push(chart('ccs-e2e', 'e2e-throughput.svg', {
    title: 'End to end against the emulator: acked msgs/s by window',
    unit: 'acked messages per second, median (higher is better)',
    groups: [...new Set(rows.map((r) => `${r.maxPending}|${r.driver}`))].map((k) => {
      const [mp, driver] = k.split('|');
      return { label: `maxPending ${mp}, ${driver}`, bars: rows.filter((r) => String(r.maxPending) === mp && r.driver === driver).map((r) => ({ series: e2eSeries(r.client), value: r.rate })) };
    }),
  }));
  md.push('');
}

// ---- the Redis store ----
const sr = load('store-redis');
if (sr) {
  md.push('## The Redis store (`bench/store-redis.mjs`)');
  md.push('');
  md.push(runLine('store-redis'));
  md.push('');
  md.push(`\`CcsClient\` on the in-memory store vs \`store: redisStore(...)\` (\`@ccs-xmpp/store-redis\`, a redis-server of its own on`);
  md.push(`127.0.0.1), one connection, maxPending 1000, queue driver, against the emulator; one instance, and two instances of one sender`);
  md.push(`(separate processes, timed runs started together) sharing the store. ${f0(sr.n)} messages per instance after ${f0(sr.warmup)} of warm-up,`);
  md.push(`${sr.rounds} round(s), medians; client CPU is the instances' user + system time per acked message; Redis CPU is the server's from /proc over the timed run.`);
  md.push('');
  md.push('| store | instances | acked msgs/s | of in-memory, same instances | client CPU µs/msg | Redis CPU µs/msg |');
  md.push('|---|---:|---:|---:|---:|---:|');
  for (const s of sr.summary) md.push(`| ${s.store} | ${s.instances} | ${f0(s.msgsPerSec)} | ${s.store === 'redis' ? pct(s.ofMemory) : '100%'} | ${f1(s.cpuUsPerMsg)} | ${s.store === 'redis' ? f1(s.redisCpuUsPerMsg) : '–'} |`);
  md.push('');
  const low = Math.min(...sr.summary.filter((s) => s.store === 'redis').map((s) => s.ofMemory));
  md.push('| target (issue 13) | reached | |');
  md.push('|---|---:|---|');
  md.push(`| the Redis store keeps ≥ 40% of the in-memory throughput | ${pct(low)} (lowest row) | ${verdict(low >= 0.4)} |`);
  md.push('');
}

// ---- memory per message, all sources ----
const memGroups = [];
const MEM_SERIES = { ccs: 'CcsClient', 'ccs-dispatch': 'CcsClient, dispatch()', floor: 'API floor', 'floor-dispatch': 'API floor, dispatch()', xmppjs: 'xmpp.js' };
const memSeries = (client) => MEM_SERIES[client] ?? client;
if (cc) memGroups.push({ label: 'pending (stub CCS)', bars: cc.memory.map((r) => ({ series: memSeries(r.client), value: r.bytesPerPending })) });
if (e2e?.memory?.length) {
  for (const kind of ['inflight', 'queued']) {
    memGroups.push({ label: `${kind === 'inflight' ? 'pending' : 'queued'} (emulator)`, bars: e2e.memory.filter((r) => r.kind === kind).map((r) => ({ series: memSeries(r.client), value: r.heapBytesPerMsg })) });
  }
}
if (memGroups.length > 0) {
  md.push('## Memory per message');
  md.push('');
  md.push(chart([...(cc ? ['ccs-client'] : []), ...(e2e?.memory?.length ? ['ccs-e2e'] : [])], 'memory.svg', { title: 'Heap per message held by the client', unit: 'bytes of heap per message (slope between two counts, after GC; lower is better)', groups: memGroups }));
  md.push('');
}

writeFileSync(here('./RESULTS.md'), `${md.join('\n')}\n`);
process.stderr.write('wrote bench/RESULTS.md and bench/charts/*.svg\n');
