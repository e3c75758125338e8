// Staging time of the go, ruby and php buildpacks (issue 21): a build of the app's package through a
// real box (`POST /v3/builds` until the build is STAGED: the package downloaded by the DEA, the
// buildpack run in the staging's container, the droplet packed and uploaded), first with an empty
// cache (a new app) and then cached (the same package built again: the app's buildpack cache
// filled). The reference, in the same run: the same buildpack's bin/compile and bin/release run by
// hand on the host, in a copy of the app, with a new cache directory and then the same one, so the
// ratio is what devbox's staging adds to the buildpack's own work.
//
// The apps are the tests' fixtures: go-hello (a Go module), ruby-sinatra (Sinatra with Debian's gems,
// its Gemfile.lock locked again against the machine's) and php-hello.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePort } from '../src/runtime/common/net.js';
import { waitFor } from '../src/runtime/common/poll.js';
import { DEVBOX_BIN } from '../src/runtime/supervisor/supervisor.js';
import { sinatraApp } from '../test/fixtures/apps/ruby-sinatra/prepare.js';
import { boxApi, type BoxApi } from '../test/helpers/api.js';
import { printTable, type BenchRow } from './lib.js';

const FIXTURES = fileURLToPath(new URL('../test/fixtures/apps/', import.meta.url));
const BUILDPACKS = fileURLToPath(new URL('../templates/buildpacks/', import.meta.url));
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const log = (line: string) => process.stderr.write(`  buildpacks: ${line}\n`);
const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;

interface Subject {
  buildpack: 'go' | 'ruby' | 'php';
  dir: string;
}

/** ms of one build of the app's newest package, until STAGED. */
async function timedBuild(api: BoxApi, appGuid: string): Promise<number> {
  const packages = (await api.call('GET', `/v3/apps/${appGuid}/packages?order_by=-created_at&per_page=1`)).json() as { resources: { guid: string }[] };
  const pkg = packages.resources[0]?.guid;
  if (!pkg) throw new Error(`app ${appGuid} has no package`);
  const start = process.hrtime.bigint();
  const created = await api.call('POST', '/v3/builds', { package: { guid: pkg } });
  if (created.status !== 201) throw new Error(`POST /v3/builds: ${created.status} ${created.text}`);
  const build = created.json() as { guid: string };
  const state = await waitFor(
    `build ${build.guid} to end`,
    async () => {
      const b = (await api.call('GET', `/v3/builds/${build.guid}`)).json() as { state: string; error: string | null };
      return b.state === 'STAGED' || b.state === 'FAILED' ? b : undefined;
    },
    { timeoutMs: 300_000, intervalMs: 20 },
  );
  if (state.state !== 'STAGED') throw new Error(`build of ${appGuid} failed: ${state.error}`);
  return since(start);
}

/** ms of the buildpack's compile and release run by hand on the host, in a copy of the app, with `cache`. */
async function byHand(subject: Subject, cache: string, scratch: string): Promise<number> {
  const build = fs.mkdtempSync(path.join(scratch, `${subject.buildpack}-build-`));
  fs.cpSync(subject.dir, build, { recursive: true });
  const home = fs.mkdtempSync(path.join(scratch, 'home-'));
  const tmp = path.join(home, 'tmp');
  fs.mkdirSync(tmp);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, TMPDIR: tmp, LANG: process.env.LANG ?? 'C.UTF-8', MEMORY_LIMIT: '256m', CF_STACK: 'host' };
  const bin = path.join(BUILDPACKS, subject.buildpack, 'bin');
  const start = process.hrtime.bigint();
  await execa(path.join(bin, 'compile'), [build, cache], { env, extendEnv: false, timeout: 300_000 });
  await execa(path.join(bin, 'release'), [build], { env, extendEnv: false, timeout: 60_000 });
  const ms = since(start);
  fs.rmSync(build, { recursive: true, force: true });
  fs.rmSync(home, { recursive: true, force: true });
  return ms;
}

export async function benchBuildpacks(runs = 3): Promise<BenchRow[]> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-buildpacks-'));
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-buildpacks-scratch-'));
  const port = await freePort();
  const devbox = (args: string[]) => execa(process.execPath, [DEVBOX_BIN, ...args], { env: { DEVBOX_HOME: home }, reject: false, timeout: 180_000 });
  const subjects: Subject[] = [
    { buildpack: 'go', dir: path.join(FIXTURES, 'go-hello') },
    { buildpack: 'ruby', dir: await sinatraApp(path.join(scratch, 'sinatra')) },
    { buildpack: 'php', dir: path.join(FIXTURES, 'php-hello') },
  ];
  const times = new Map(subjects.map((s) => [s.buildpack, { first: [] as number[], cached: [] as number[], handFirst: [] as number[], handCached: [] as number[] }]));
  try {
    const up = await devbox(['up', '-d', '--port', String(port), '--tls-port', String(await freePort()), '--ssh-port', String(await freePort())]);
    if (up.exitCode !== 0) throw new Error(`devbox up failed: ${up.stdout}${up.stderr}`);
    const api = await boxApi(home, port);
    for (let i = 0; i < runs; i++) {
      // One subject after another, by hand and through the box in turn, so that both see the same machine.
      for (const subject of subjects) {
        const t = times.get(subject.buildpack)!;
        const cache = fs.mkdtempSync(path.join(scratch, `${subject.buildpack}-cache-`));
        t.handFirst.push(await byHand(subject, cache, scratch));
        t.handCached.push(await byHand(subject, cache, scratch));
        fs.rmSync(cache, { recursive: true, force: true });

        const name = `bench-${subject.buildpack}-${i}`;
        const pushed = await devbox(['push', name, '-p', subject.dir, '-b', subject.buildpack, '--no-start', '--no-route']);
        if (pushed.exitCode !== 0) throw new Error(`push ${name} failed: ${pushed.stdout}${pushed.stderr}`);
        const apps = (await api.call('GET', `/v3/apps?names=${name}`)).json() as { resources: { guid: string }[] };
        const guid = apps.resources[0].guid;
        t.first.push(await timedBuild(api, guid));
        t.cached.push(await timedBuild(api, guid));
        log(`${subject.buildpack} run ${i + 1}: first ${Math.round(t.first.at(-1)!)} ms (by hand ${Math.round(t.handFirst.at(-1)!)}), cached ${Math.round(t.cached.at(-1)!)} ms (by hand ${Math.round(t.handCached.at(-1)!)})`);
      }
    }
  } finally {
    await devbox(['down']);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(scratch, { recursive: true, force: true });
  }
  const rows: BenchRow[] = [];
  for (const { buildpack } of subjects) {
    const t = times.get(buildpack)!;
    rows.push(
      { name: `staging with ${buildpack}, first (empty cache)`, unit: 'ms', devbox: median(t.first), reference: median(t.handFirst), referenceName: 'bin/compile on the host', higherIsBetter: false },
      { name: `staging with ${buildpack}, cached`, unit: 'ms', devbox: median(t.cached), reference: median(t.handCached), referenceName: 'bin/compile on the host', higherIsBetter: false },
    );
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable(await benchBuildpacks());
