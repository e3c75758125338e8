// Builds dist/ atomically: TypeScript compiles into a fresh directory which then replaces dist/ in
// two renames, so a devbox process or test run using dist/ never sees it half-written or missing.
//
// A build that is already there is not done again: dist/.build-inputs holds a hash of what it was
// built from (src/, the tsconfigs, package.json, these scripts, the TypeScript version), and when
// it matches, the build says so and stops. `npm ci` builds once (`prepare`); `npm link`, `npx
// devbox` in the checkout (both run `prepare` again), `npm test` (`pretest`) and `npm run bench`
// then cost a second, not a whole compile. `npm run build -- --force` builds anyway.
//
// The first build takes a while (15-40 s): it says what it does, and at a terminal how long so far.
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { clearInterval, setInterval } from 'node:timers';

const root = path.resolve(new URL('..', import.meta.url).pathname);
const tmp = path.join(root, `.dist-build-${process.pid}`);
const old = path.join(root, `.dist-old-${process.pid}`);
const dist = path.join(root, 'dist');
const stamp = path.join(dist, '.build-inputs');
const manifest = path.join(root, 'oclif.manifest.json');
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** Every file under `dir`, sorted (a stable order for the hash). */
function filesUnder(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath ?? e.path, e.name))
    .sort();
}

/** A hash of everything dist/ and oclif.manifest.json are made from: names and contents. */
function inputsHash() {
  const hash = createHash('sha256');
  const files = [
    ...filesUnder(path.join(root, 'src')),
    ...['tsconfig.json', 'tsconfig.build.json', 'package.json', 'scripts/build.js', 'scripts/oclif-manifest.js', 'node_modules/typescript/package.json'].map((f) => path.join(root, f)),
  ];
  for (const file of files) {
    hash.update(path.relative(root, file)).update('\0');
    hash.update(fs.existsSync(file) ? fs.readFileSync(file) : Buffer.alloc(0)).update('\0');
  }
  return hash.digest('hex');
}

const say = (line) => process.stdout.write(`devbox build: ${line}\n`);
const inputs = inputsHash();
const force = process.argv.includes('--force');
const built = fs.existsSync(manifest) && fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8').trim() === inputs;
if (built && !force) {
  say('dist/ is up to date (npm run build -- --force builds it anyway)');
  process.exit(0);
}

/** Runs tsc, showing at a terminal how long it has been going (it prints nothing until it ends). */
function compile() {
  return new Promise((resolve, reject) => {
    const begun = Date.now();
    const child = spawn(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json'), '--outDir', tmp], { stdio: 'inherit' });
    const tty = process.stdout.isTTY;
    const ticker = tty ? setInterval(() => process.stdout.write(`\rdevbox build: compiling TypeScript into dist/... ${Math.round((Date.now() - begun) / 1000)} s`), 1000) : undefined;
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (ticker) clearInterval(ticker);
      if (tty) process.stdout.write('\n');
      if (code === 0) resolve(Date.now() - begun);
      else reject(new Error(`tsc failed (${signal ?? `exit ${code}`})`));
    });
  });
}

const why = built ? '--force' : fs.existsSync(dist) ? 'sources changed' : 'the first build: 15-40 s';
say(`compiling TypeScript into dist/ (${why})...`);
try {
  const ms = await compile();
  if (fs.existsSync(dist)) fs.renameSync(dist, old);
  fs.renameSync(tmp, dist);
  say(`compiled in ${(ms / 1000).toFixed(1)} s`);
} catch (error) {
  process.stderr.write(`devbox build: ${error.message}\n`);
  process.exitCode = 1;
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.rmSync(old, { recursive: true, force: true });
}
if (process.exitCode !== 1) {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'oclif-manifest.js')], { stdio: 'inherit' });
  // Written last: a build that stopped halfway is done again next time.
  fs.writeFileSync(stamp, `${inputs}\n`);
}
