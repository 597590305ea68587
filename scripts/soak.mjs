#!/usr/bin/env node
// `npm run test:soak`: the soak suite of issue 11 §6 (test/soak/scenarios.ts), long versions, one
// after the other, with a table of invariants and resource bounds. Exit 1 when any row fails.
//   --seed N        seed of every scenario (default: random, printed; rerun with it to replay)
//   --only a,b      scenario names (see the table); --short runs the `npm test` sizes
//   --seconds N     time box of each scenario (default: each scenario's own)
import { SCENARIOS, formatTable } from '../test/dist/soak/scenarios.js';

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
};
const seed = Number(opt('seed') ?? Math.floor(Math.random() * 2 ** 31));
const only = opt('only')?.split(',');
const short = args.includes('--short');
const seconds = opt('seconds');

console.log(`soak: seed ${seed} (replay: npm run test:soak -- --seed ${seed}${only ? ` --only ${only.join(',')}` : ''})`);
const rows = [];
for (const s of SCENARIOS) {
  if (only && !only.includes(s.name)) continue;
  const p = { seed, scale: short ? 'short' : 'long', seconds: Number(seconds ?? (short ? s.shortSeconds : s.longSeconds)) };
  process.stdout.write(`${s.name} (${p.seconds} s box) … `);
  try {
    const r = await s.run(p);
    rows.push(r);
    console.log(r.violations.length ? `FAIL: ${r.violations.join('; ')}` : `ok (${r.seconds} s)`);
  } catch (err) {
    rows.push({ scenario: s.name, seed, work: 'crashed', seconds: 0, violations: [String(err?.stack ?? err)], heapPeakMB: 0, heapBoundMB: 0, fdsPeak: 0, fdsBound: 0, connsPeak: 0, connsBound: 0 });
    console.log(`CRASHED: ${err?.stack ?? err}`);
  }
}
console.log(`\n${formatTable(rows)}`);
process.exit(rows.some((r) => r.violations.length) ? 1 : 0);
