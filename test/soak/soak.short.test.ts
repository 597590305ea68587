// The soak suite's short versions (seconds each), so `npm test` proves every scenario still holds its
// invariant and its resource bounds; `npm run test:soak` runs the long ones (test/README.md).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SCENARIOS, formatTable, type SoakRow } from './scenarios.js';

const SEED = Number(process.env['SOAK_SEED'] ?? 20261201);
const rows: SoakRow[] = [];

for (const s of SCENARIOS) {
  test(
    `soak (short): ${s.name} holds its invariant and its resource bounds (seed ${SEED})`,
    Object.assign(
      async () => {
        const r = await s.run({ seed: SEED, scale: 'short', seconds: s.shortSeconds });
        rows.push(r);
        assert.equal(r.violations, [], `${r.scenario}: ${r.violations.join('; ')} (replay: npm run test:soak -- --short --seed ${SEED} --only ${s.name})`);
      },
      // The scenario's own time box plus room for a loaded machine to wind it down.
      { timeoutMs: (s.shortSeconds + 90) * 1000 },
    ),
  );
}

test.after(() => {
  if (rows.length) process.stdout.write(`\n${formatTable(rows)}\n`);
});

test.run();
