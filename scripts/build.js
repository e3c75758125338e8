// Builds dist/ atomically: TypeScript compiles into a fresh directory which then replaces dist/ in
// two renames, so a devbox process or test run using dist/ never sees it half-written or missing.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const tmp = path.join(root, `.dist-build-${process.pid}`);
const old = path.join(root, `.dist-old-${process.pid}`);
const dist = path.join(root, 'dist');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

try {
  execFileSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', tmp], { stdio: 'inherit' });
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(tmp, dist);
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(old, { recursive: true, force: true });
}
execFileSync(process.execPath, [path.join(root, 'scripts', 'oclif-manifest.js')], { stdio: 'inherit' });
