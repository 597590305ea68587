/**
 * `--ttl -1` as `--ttl=-1`, for the packages' command lines (`node:util` `parseArgs`). parseArgs
 * takes a value that starts with '-' for another option and stops with "argument is ambiguous",
 * which hides the message that matters: the option's range. Only a `--long` option without `=`
 * followed by a negative number (`-1`, `-0.5`, `-.5`) is joined; everything else is kept as it is.
 */
export function joinNegativeValues(args: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    // Past the end `next` is undefined, which test() reads as "undefined": not a number, not joined.
    const next = args[i + 1] as string;
    // After a boolean flag the joined form is refused too ("does not take an argument"), as it should be.
    if (arg.startsWith('--') && !arg.includes('=') && /^-\.?\d/.test(next)) {
      out.push(`${arg}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}
