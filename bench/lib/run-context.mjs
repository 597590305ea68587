/**
 * The context of the run that produced one benchmark's results (bench/results/meta.json, one entry
 * per benchmark): date, Node version, CPU and load average. bench/run.mjs records it for every
 * benchmark it runs and keeps the entries of the others as they were, so a partial run
 * (`--only`) never stamps its own date on figures it did not measure.
 */

/**
 * An entry of meta.json with its context filled in. Entries written before each carried its own
 * (they had only `earlier`: the date of the run that produced them) take the machine fields of the
 * file — the same machine — and no load average, which was recorded only for the file's own run.
 * @param {Record<string, unknown>} entry
 * @param {Record<string, unknown>} file
 */
export function withContext(entry, file) {
  if (entry.date !== undefined) return entry;
  const { earlier, ...rest } = entry;
  const own = earlier === undefined;
  return {
    ...rest,
    node: file.node,
    cpu: file.cpu,
    cores: file.cores,
    date: earlier ?? file.date,
    quick: own ? file.quick : undefined,
    loadAverageAtStart: own ? file.loadAverageAtStart : undefined,
    loadAverageAtEnd: own ? file.loadAverageAtEnd : undefined,
  };
}

/** "2026-12-02 04:31 UTC, Node v20.20.2, 2× AMD EPYC, load 4.9 → 7.2" (load: the 1-minute average at its start and end). */
export function describeRun(run) {
  if (run === undefined) return 'run not recorded';
  const f1 = (x) => (typeof x === 'number' ? x.toFixed(1) : '?');
  const load = run.loadAverageAtStart === undefined ? 'load not recorded' : `load ${f1(run.loadAverageAtStart)} → ${f1(run.loadAverageAtEnd)}`;
  return `${String(run.date).slice(0, 16).replace('T', ' ')} UTC, Node ${run.node}, ${run.cores}× ${run.cpu}, ${load}${run.quick ? ', --quick' : ''}`;
}
