// Module resolution hook registered by scripts/run-uvu.mjs: a test file's `import … from 'uvu'` gets
// scripts/lib/uvu-guard.mjs (uvu with per-test deadlines and fault attribution) instead, so test
// files stay plain uvu. The guard itself, and anything it imports, gets the real uvu.
const guardURL = new URL('./uvu-guard.mjs', import.meta.url).href;

export async function resolve(specifier, context, nextResolve) {
  if (specifier === 'uvu' && context.parentURL !== guardURL) return { url: guardURL, shortCircuit: true };
  return nextResolve(specifier, context);
}
