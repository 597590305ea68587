/**
 * `--ttl -1` as `--ttl=-1`, for the packages' command lines (`node:util` `parseArgs`). parseArgs
 * takes a value that starts with '-' for another option and stops with "argument is ambiguous",
 * which hides the message that matters: the option's range. Only a `--long` option without `=`
 * followed by a negative number (`-1`, `-0.5`, `-.5`) is joined; everything else is kept as it is.
 */
export function joinNegativeValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const arg of args) {
    // Each argument looks back at the one before it, so there is no "next" past the end. A joined
    // `--x=-1` has its '=': the number after it is not joined too (one value per option).
    const prev = out.at(-1);
    // After a boolean flag the joined form is refused too ("does not take an argument"), as it should be.
    if (prev?.startsWith('--') && !prev.includes('=') && /^-\.?\d/.test(arg)) out[out.length - 1] = `${prev}=${arg}`;
    else out.push(arg);
  }
  return out;
}
