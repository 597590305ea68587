// Loaded (NODE_OPTIONS=--import) into every Node process a test file starts during the mutation dry
// run (scripts/mutation-runner.mjs). A test that runs the package in a child process (keep-alive,
// garbage collection, exit codes) reaches mutants the test file's own process never does; without
// this, such a mutant was never given that file, and its kill went unseen. At exit each process
// leaves the ids of the mutants it reached in MUTATION_COVER_DIR. A child killed by a signal leaves
// nothing, so this only adds files to a mutant, never takes one away.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.MUTATION_COVER_DIR;
if (dir) {
  process.on('exit', () => {
    const cov = globalThis.__stryker__?.mutantCoverage;
    if (!cov) return;
    const ids = new Set(Object.keys(cov.static ?? {}));
    for (const perTest of Object.values(cov.perTest ?? {})) for (const id of Object.keys(perTest)) ids.add(id);
    if (ids.size > 0) writeFileSync(join(dir, `${process.pid}.json`), JSON.stringify([...ids]));
  });
}
