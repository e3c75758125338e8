#!/usr/bin/env node
// Development entry: the same as run.js, on the TypeScript sources (no build needed).
import { register } from 'tsx/esm/api';

register();
if (process.argv[2] === 'component') {
  const { componentMain } = await import('../src/runtime/main.ts');
  const code = await componentMain(process.argv.slice(3));
  if (code !== undefined) process.exit(code);
} else {
  const { execute } = await import('@oclif/core');
  await execute({ development: true, dir: import.meta.url });
}
