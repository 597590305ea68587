// Which mutants `npm run test:mutation -- <pkg> --survivors` reruns (scripts/mutation.mjs).
import { existsSync, readFileSync } from 'node:fs';

/**
 * MUTATE ranges (`file:line:column-line:column`, Stryker's form) of the undetected mutants recorded in
 * the incremental file `file`. `mutate` (the MUTATE variable, comma-separated) narrows them: a
 * `dist/src/a.js` entry takes that file's, a `dist/src/a.js:75-304` entry those that start on lines
 * 75–304 (two people can rerun their own parts of one file); undefined takes every file's.
 */
export function survivorRanges(file, mutate) {
  if (!existsSync(file)) return [];
  const only = mutate?.split(',').map((m) => {
    const range = /^(.*):(\d+)-(\d+)$/.exec(m);
    return range === null ? { name: m.replace(/:.*/, ''), from: 1, to: Infinity } : { name: range[1], from: Number(range[2]), to: Number(range[3]) };
  });
  const ranges = new Set();
  for (const [name, { mutants }] of Object.entries(JSON.parse(readFileSync(file, 'utf8')).files)) {
    const lines = only?.filter((o) => o.name === name);
    if (lines !== undefined && lines.length === 0) continue;
    for (const { status, location: l } of mutants) {
      if (status !== 'Survived' && status !== 'NoCoverage') continue;
      if (lines !== undefined && !lines.some((o) => l.start.line >= o.from && l.start.line <= o.to)) continue;
      // The report's columns are 1-based, Stryker's ranges 0-based: start one early, end where it ends.
      ranges.add(`${name}:${l.start.line}:${l.start.column - 1}-${l.end.line}:${l.end.column}`);
    }
  }
  return [...ranges];
}
