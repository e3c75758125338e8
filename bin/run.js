#!/usr/bin/env node
// The devbox executable: runs the compiled commands in dist/ (built by `npm ci` through `prepare`).
// `devbox component NAME` (how the supervisor starts each component) skips oclif to start fast.
if (process.argv[2] === 'component') {
  const { componentMain } = await import('../dist/runtime/main.js');
  const code = await componentMain(process.argv.slice(3));
  if (code !== undefined) process.exit(code);
} else {
  const { execute } = await import('@oclif/core');
  await execute({ dir: import.meta.url });
}
