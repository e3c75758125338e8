// cf's manifest.yml as devbox reads it: every field, several apps, warnings for what devbox does not
// know, errors naming the app and the field, broken YAML with its position, and alias bombs refused;
// `processes:` read as written, and how push turns them (with the top-level fields and the flags)
// into the manifest it applies.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { Process } from '../../src/cli/api/resources.js';
import { CliError } from '../../src/cli/base-command.js';
import { findManifestIn, ManifestError, MAX_ALIAS_COUNT, normalizeBuildpacks, parseManifest, readManifest, type ManifestProcessEntry } from '../../src/cli/manifest.js';
import { endpointProblems, planPush, processesManifest, processesRestart } from '../../src/cli/push.js';

const base = '/work/apps';
const parse = (text: string) => parseManifest(text, { file: '/work/apps/manifest.yml', baseDir: base });

/** The problems of a manifest that must be refused. */
function problems(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    assert.ok(error instanceof ManifestError, `expected a ManifestError, got ${String(error)}`);
    assert.equal(error.exitCode, 1);
    return error.problems;
  }
  assert.fail(`the manifest was accepted:\n${text}`);
}

describe('manifest.yml', () => {
  it("reads `path: .` as the manifest's own directory, as cf does (YAML 1.1 would make it a float)", () => {
    const { apps } = parse('applications:\n- name: here\n  path: .\n  env:\n    RATIO: 1.5\n    DOT: -.\n');
    assert.equal(apps[0].path, base);
    assert.deepEqual(apps[0].env, { RATIO: '1.5', DOT: '-.' });
  });

  it('reads every field of an app', () => {
    const { apps, warnings } = parse(`---
applications:
- name: shop
  path: ./shop
  memory: 512M
  disk_quota: 2G
  instances: 3
  buildpacks: [nodejs, ./my-buildpack]
  command: node server.js --port $PORT
  env:
    GREETING: hello world
    WORKERS: 4
    DEBUG: true
  routes:
  - route: shop.localhost
  - route: www.shop.localhost/api/
  random-route: false
  health-check-type: http
  health-check-http-endpoint: /health
  health-check-invocation-timeout: 5
  timeout: 90
  stack: host
`);
    assert.deepEqual(warnings, []);
    assert.deepEqual(apps, [
      {
        name: 'shop',
        path: '/work/apps/shop',
        memory: 512,
        disk: 2048,
        instances: 3,
        buildpacks: ['nodejs', '/work/apps/my-buildpack'],
        command: 'node server.js --port $PORT',
        env: { GREETING: 'hello world', WORKERS: '4', DEBUG: 'true' },
        routes: ['shop.localhost', 'www.shop.localhost/api/'],
        randomRoute: false,
        healthCheckType: 'http',
        healthCheckEndpoint: '/health',
        healthCheckInvocationTimeout: 5,
        timeout: 90,
      },
    ]);
  });

  it('reads several apps, each with only what it sets', () => {
    const { apps } = parse(`applications:
- name: api
  no-route: true
  instances: 0
- name: web
  random-route: true
  disk-quota: 512MB
- name: worker
  health-check-type: process
  command: null
`);
    assert.deepEqual(apps, [
      { name: 'api', noRoute: true, instances: 0 },
      { name: 'web', randomRoute: true, disk: 512 },
      { name: 'worker', healthCheckType: 'process', command: null },
    ]);
  });

  it('takes the deprecated buildpack and health-check-type none with a warning, and default/null buildpacks as "detect"', () => {
    const { apps, warnings } = parse(`applications:
- name: old
  buildpack: python
  health-check-type: none
- name: detect
  buildpacks: [default]
`);
    assert.deepEqual(apps[0].buildpacks, ['python']);
    assert.equal(apps[0].healthCheckType, 'process');
    assert.deepEqual(apps[1].buildpacks, []);
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /applications\[0\]\.buildpack is deprecated: use buildpacks: \[python\] \(app 'old'\)/);
    assert.match(warnings[1], /applications\[0\]\.health-check-type 'none' is deprecated: use 'process'/);
  });

  it('reads YAML 1.1 like the cf CLI (yes/no are booleans), anchors and merge keys', () => {
    const { apps } = parse(`defaults: &defaults
  memory: 128M
  instances: 2
applications:
- <<: *defaults
  name: a
  no-route: yes
- <<: *defaults
  name: b
  env: { FLAG: on }
`);
    assert.deepEqual(apps[0], { name: 'a', memory: 128, instances: 2, noRoute: true });
    assert.deepEqual(apps[1], { name: 'b', memory: 128, instances: 2, env: { FLAG: 'true' } });
  });

  it('warns about fields it does not know, naming them, and about cf fields devbox ignores', () => {
    const { apps, warnings } = parse(`applications:
- name: shop
  memroy: 256M
  colour: blue
  sidecars: [{name: x}]
  routes:
  - route: shop.localhost
    protocol: http2
flavour: vanilla
`);
    assert.deepEqual(apps, [{ name: 'shop', routes: ['shop.localhost'], sidecars: [{ name: 'x' }] }]);
    assert.ok(warnings.some((w) => w === 'the manifest has fields devbox does not know, ignored: flavour'), warnings.join('\n'));
    assert.ok(warnings.some((w) => w === "applications[0] has fields devbox does not know, ignored: memroy, colour (app 'shop')"), warnings.join('\n'));
    assert.ok(warnings.some((w) => /applications\[0\]\.routes\[0\] has fields devbox does not know, ignored: protocol/.test(w)), warnings.join('\n'));
  });

  it('reads services to bind, as names or {name, parameters}', () => {
    const { apps, warnings } = parse('applications:\n- name: a\n  services:\n  - mydb\n  - name: cache\n    parameters: {ttl: 5}\n');
    assert.deepEqual(apps[0].services, [{ name: 'mydb' }, { name: 'cache', parameters: { ttl: 5 } }]);
    assert.deepEqual(warnings, []);
    assert.throws(() => parse('applications:\n- name: a\n  services: [{parameters: {}}]\n'), /services\[0\]/);
  });

  it('warns about another stack and ignores it', () => {
    const { warnings } = parse('applications:\n- name: a\n  stack: cflinuxfs4\n');
    assert.match(warnings[0], /stack 'cflinuxfs4' ignored: devbox runs every app on the 'host' stack/);
  });

  it('refuses wrong types, naming the app and the field', () => {
    const found = problems(`applications:
- name: shop
  instances: three
  memory: 256
  disk_quota: lots
  no-route: "maybe"
  env: [A, B]
  buildpacks: nodejs
  timeout: 0
  health-check-type: tcp
  health-check-http-endpoint: health
  command: 42
  routes: shop.localhost
- name: second
  instances: 1.5
  env:
    NESTED: { a: 1 }
  routes:
  - shop.localhost
  - route: tcp.localhost:1234
  - route: http://shop.localhost
`);
    const expected = [
      `applications[0].instances must be a whole number, got "three" (app 'shop')`,
      `applications[0].memory must be a size with a unit, like 256M or 1G, got 256 (app 'shop')`,
      `applications[0].disk_quota must be a size with a unit, like 256M or 1G, got "lots" (app 'shop')`,
      `applications[0].no-route must be true or false, got "maybe" (app 'shop')`,
      `applications[0].env must be a mapping of variable names to values, got ["A","B"] (app 'shop')`,
      `applications[0].buildpacks must be a list of buildpack names or directories, got "nodejs" (app 'shop')`,
      `applications[0].timeout must be between 1 and 600, got 0 (app 'shop')`,
      `applications[0].health-check-type must be one of port, http, process, got "tcp" (app 'shop')`,
      `applications[0].health-check-http-endpoint must be a path starting with /, got "health" (app 'shop')`,
      `applications[0].command must be a command line (or null for the buildpack's), got 42 (app 'shop')`,
      `applications[0].routes must be a list of {route: HOST.DOMAIN[/PATH]}, got "shop.localhost" (app 'shop')`,
      `applications[1].instances must be a whole number, got 1.5 (app 'second')`,
      `applications[1].env.NESTED must be a string, number or boolean, got {"a":1} (app 'second')`,
      `applications[1].routes[0] must be a mapping with a route, like {route: myapp.localhost}, got "shop.localhost" (app 'second')`,
      `applications[1].routes[1].route must be an HTTP route (devbox has no TCP routes), got "tcp.localhost:1234" (app 'second')`,
      `applications[1].routes[2].route must be a route without a scheme, like myapp.localhost/path, got "http://shop.localhost" (app 'second')`,
    ];
    for (const line of expected) assert.ok(found.includes(line), `missing: ${line}\nfound:\n${found.join('\n')}`);
    assert.equal(found.length, expected.length, found.join('\n'));
  });

  it('the error message names the file and lists every problem', () => {
    try {
      parse('applications:\n- name: a\n  instances: -1\n  memory: 1.5G\n');
      assert.fail('accepted');
    } catch (error) {
      assert.ok(error instanceof ManifestError);
      assert.equal(
        error.message,
        [
          'The manifest /work/apps/manifest.yml cannot be used:',
          `  applications[0].memory must be a size with a unit, like 256M or 1G, got "1.5G" (app 'a')`,
          `  applications[0].instances must be between 0 and 1000, got -1 (app 'a')`,
        ].join('\n'),
      );
    }
  });

  it('refuses a manifest without applications, an empty one, duplicates, unnamed entries that are not mappings', () => {
    assert.match(problems('')[0], /must be a mapping with an 'applications' list, got an empty document/);
    assert.match(problems('- name: a\n')[0], /must be a mapping with an 'applications' list/);
    assert.match(problems('version: 1\n')[0], /applications is missing/);
    assert.match(problems('applications: []\n')[0], /applications is empty/);
    assert.match(problems('applications: {name: a}\n')[0], /applications must be a list/);
    assert.match(problems('applications:\n- just-a-name\n')[0], /applications\[0\] must be a mapping of app attributes/);
    assert.match(problems('applications:\n- name: a\n- name: a\n')[0], /applications\[1\]\.name "a" is also the name of applications\[0\]/);
    assert.match(problems('applications:\n- name: ""\n')[0], /applications\[0\]\.name must be a non-empty string/);
    assert.match(problems('version: 2\napplications:\n- name: a\n')[0], /version must be 1/);
  });

  it('refuses contradictions and fields cf itself dropped', () => {
    assert.match(problems('applications:\n- name: a\n  buildpack: x\n  buildpacks: [y]\n')[0], /has both buildpack and buildpacks/);
    assert.match(problems('applications:\n- name: a\n  no-route: true\n  routes: [{route: a.localhost}]\n')[0], /has both no-route and routes/);
    assert.match(problems('applications:\n- name: a\n  disk_quota: 1G\n  disk-quota: 1G\n')[0], /has both disk_quota and disk-quota/);
    assert.match(problems('applications:\n- name: a\n  health-check-type: port\n  health-check-http-endpoint: /h\n')[0], /needs health-check-type http, not port/);
    assert.match(problems('applications:\n- name: a\n  host: a\n  domain: localhost\n').join('\n'), /'host' is no longer supported \(cf v7\): use routes/);
    assert.match(problems('applications:\n- name: a\n  docker: {image: nginx}\n')[0], /docker images are not supported/);
    assert.match(problems('inherit: base.yml\napplications:\n- name: a\n')[0], /'inherit' is no longer supported/);
    assert.match(problems('memory: 1G\napplications:\n- name: a\n')[0], /'memory' at the top of the manifest belongs to an application/);
    assert.match(problems('applications:\n- name: a\n  memory: ((mem))\n')[0], /line 3 uses the variable \(\(mem\)\): manifest variables .* are not supported/);
  });

  it('reports broken YAML with its line and column', () => {
    const found = problems('applications:\n- name: a\n  memory: [256M\n  instances: 2\n');
    assert.equal(found[0], 'it is not valid YAML:');
    assert.match(found[1], /^ {2}line \d+, column \d+: /);
    const tabs = problems('applications:\n\t- name: a\n');
    assert.match(tabs[1], /line 2, column 1: Tabs are not allowed as indentation/);
    const duplicate = problems('applications:\n- name: a\n  memory: 1G\n  memory: 2G\n');
    assert.match(duplicate[1], /line 4, column 3: Map keys must be unique/);
    assert.match(problems('applications:\n- name: a\n---\napplications: []\n')[1], /line 3, column 1: Source contains multiple documents/);
  });

  it('bounds alias expansion (YAML bombs)', () => {
    const levels = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) levels.push(`${'abcdefghij'[i]}: &${'abcdefghij'[i]} [${Array(9).fill(`*${'abcdefghij'[i - 1]}`).join(',')}]`);
    const bomb = `${levels.join('\n')}\napplications:\n- name: boom\n  env: {X: *i}\n`;
    const started = Date.now();
    const found = problems(bomb);
    assert.match(found[0], new RegExp(`its YAML aliases expand too much \\(more than ${MAX_ALIAS_COUNT} expansions\\)`));
    assert.ok(Date.now() - started < 2_000, 'refused quickly');
    // A few aliases are fine.
    assert.equal(parse('x: &m 128M\napplications:\n- {name: a, memory: *m}\n- {name: b, memory: *m}\n').apps[1].memory, 128);
  });

  it('resolves paths and buildpack directories against the manifest, leaving names and URLs alone', () => {
    assert.deepEqual(normalizeBuildpacks(['nodejs', './bp', '../shared/bp', '/abs/bp', 'https://github.com/x/y.git'], '/work/apps'), [
      'nodejs',
      '/work/apps/bp',
      '/work/shared/bp',
      '/abs/bp',
      'https://github.com/x/y.git',
    ]);
    assert.deepEqual(normalizeBuildpacks(['null']), []);
    assert.equal(normalizeBuildpacks(['~/bp'])[0], path.join(os.homedir(), 'bp'));
    assert.equal(parse('applications:\n- name: a\n  path: /elsewhere\n').apps[0].path, '/elsewhere');
  });

  describe('processes:', () => {
    it('reads each entry as written: its type and its other fields unchecked, for the controller to check', () => {
      const { apps, warnings } = parse(`applications:
- name: ww
  command: node server.js
  processes:
  - type: web
    instances: 2
    health-check-type: http
  - type: worker
    instances: 1
    memory: 64M
    disk_quota: 512M
    command: null
    colour: blue
`);
      assert.deepEqual(warnings, []);
      assert.deepEqual(apps[0], {
        name: 'ww',
        command: 'node server.js',
        processes: [
          { type: 'web', instances: 2, 'health-check-type': 'http' },
          { type: 'worker', instances: 1, memory: '64M', disk_quota: '512M', command: null, colour: 'blue' },
        ],
      });
      // Values the controller refuses are passed on as they are (it names the field).
      assert.deepEqual(parse('applications:\n- name: a\n  processes: [{type: worker, instances: -1}]\n').apps[0].processes, [{ type: 'worker', instances: -1 }]);
      assert.deepEqual(parse('applications:\n- name: a\n  processes: ~\n').apps[0], { name: 'a' });
    });

    it('passes sidecars on as written (the controller checks them), and refuses processes at the top of the manifest', () => {
      const { apps, warnings } = parse('applications:\n- name: a\n  sidecars: [{name: s, command: x, process_types: [web]}]\n  processes: [{type: web}]\n');
      assert.deepEqual(warnings, []);
      assert.deepEqual(apps[0].sidecars, [{ name: 's', command: 'x', process_types: ['web'] }]);
      assert.match(problems('processes: [{type: web}]\napplications:\n- name: a\n')[0], /'processes' at the top of the manifest belongs to an application/);
    });

    it('refuses entries that are not processes, each problem with the other problems of the file', () => {
      const found = problems(`applications:
- name: ww
  instances: lots
  processes:
  - type: web
  - instances: 1
  - worker
  - type: ""
  - type: [a]
  - type: web
    instances: 2
- name: two
  processes: {type: worker}
`);
      const expected = [
        `applications[0].instances must be a whole number, got "lots" (app 'ww')`,
        `applications[0].processes[1] has no type: every process needs one, like {type: worker, instances: 1} (app 'ww')`,
        `applications[0].processes[2] must be a mapping with a type, like {type: worker, instances: 1}, got "worker" (app 'ww')`,
        `applications[0].processes[3].type must be a process type such as web or worker, got "" (app 'ww')`,
        `applications[0].processes[4].type must be a process type such as web or worker, got ["a"] (app 'ww')`,
        `applications[0].processes[5].type "web" is also the type of processes[0]: list each process type once (app 'ww')`,
        `applications[1].processes must be a list of processes, each a mapping with a type, like {type: worker, instances: 1}, got {"type":"worker"} (app 'two')`,
      ];
      assert.deepEqual(found, expected);
    });

    const plan = (text: string, overrides = {}) => planPush({ manifest: parse(text), overrides, cwd: '/' })[0];

    it('without a web entry: the top-level fields stay the web process\'s, the other entries go as written', () => {
      const p = plan('applications:\n- name: ww\n  instances: 2\n  memory: 128M\n  processes: [{type: worker, instances: 1}]\n');
      assert.equal(p.instances, 2);
      assert.equal(p.memory, 128);
      assert.deepEqual(p.processes, [{ type: 'worker', instances: 1 }]);
    });

    it('with a web entry: the entry wins field by field, the top level fills in the rest, and flags win over both (cf)', () => {
      const text = `applications:
- name: ww
  command: node top.js
  instances: 3
  memory: 128M
  disk_quota: 2G
  timeout: 30
  processes:
  - type: web
    instances: 1
    disk-quota: 1G
  - type: worker
    instances: 1
`;
      const p = plan(text);
      // The web settings are the entry's alone: nothing is left at the top level to set them twice.
      for (const field of ['command', 'instances', 'memory', 'disk', 'timeout'] as const) assert.equal(p[field], undefined, field);
      assert.deepEqual(p.processes, [
        { type: 'web', instances: 1, 'disk-quota': '1G', command: 'node top.js', memory: '128M', timeout: 30 },
        { type: 'worker', instances: 1 },
      ]);
      const flagged = plan(text, { instances: 4, disk: 512, command: null, memory: undefined });
      assert.deepEqual(flagged.processes?.[0], { type: 'web', instances: 4, disk_quota: '512M', command: null, memory: '128M', timeout: 30 });
      assert.equal(flagged.instances, undefined);
    });

    it('with a web entry: health check flags and fields go together', () => {
      const text = (entry: string, top = '') => `applications:\n- name: ww\n${top}  processes:\n  - {type: web${entry}}\n`;
      // A top-level endpoint joins the entry's http check; -u port drops it (and the entry's own).
      assert.deepEqual(plan(text(', health-check-type: http', '  health-check-http-endpoint: /health\n')).processes?.[0], { type: 'web', 'health-check-type': 'http', 'health-check-http-endpoint': '/health' });
      assert.deepEqual(plan(text(', health_check_http_endpoint: /h, health-check-type: http'), { healthCheckType: 'port' }).processes?.[0], { type: 'web', 'health-check-type': 'port' });
      // The entry's own port check outranks the top level's http check and its endpoint.
      assert.deepEqual(plan(text(', health-check-type: port', '  health-check-type: http\n  health-check-http-endpoint: /h\n')).processes?.[0], { type: 'web', 'health-check-type': 'port' });
      assert.deepEqual(plan(text(''), { healthCheckType: 'http', healthCheckEndpoint: '/ready' }).processes?.[0], { type: 'web', 'health-check-type': 'http', 'health-check-http-endpoint': '/ready' });
    });

    it('the manifest push applies: the entries as written, YAML the controller reads back unchanged, routes left alone', () => {
      const entries: ManifestProcessEntry[] = [
        { type: 'web', instances: 1 },
        { type: 'worker', instances: 1, memory: '64M', command: 'yes', 'health-check-type': 'process', note: 'on', nothing: null },
      ];
      const yaml = processesManifest('ww', entries);
      const back = parseDocument(yaml, { version: '1.1', merge: true }).toJS() as unknown;
      assert.deepEqual(back, { applications: [{ name: 'ww', routes: [], processes: entries }] });
    });

    const process = (type: string, overrides: Partial<Process> = {}): Process => ({
      guid: type,
      created_at: '',
      updated_at: '',
      type,
      command: null,
      instances: type === 'web' ? 1 : 0,
      memory_in_mb: 256,
      disk_in_mb: 1024,
      health_check: { type: type === 'web' ? 'port' : 'process', data: { timeout: null, invocation_timeout: null } },
      relationships: { app: { data: { guid: 'a' } } },
      ...overrides,
    });

    it('knows which entries restart a started app\'s instances (command, health check, memory, disk, a new type with instances)', () => {
      const current = [process('web'), process('worker', { command: 'node worker.js' })];
      const restarts = (entry: ManifestProcessEntry) => processesRestart(current, [entry]);
      assert.equal(restarts({ type: 'worker', instances: 3, memory: '256M', 'disk-quota': '1G', command: 'node worker.js', 'health-check-type': 'process' }), false);
      assert.equal(restarts({ type: 'web', instances: 0, timeout: 10 }), false);
      assert.equal(restarts({ type: 'web', command: null, health_check_type: 'none' }), true);
      assert.equal(restarts({ type: 'web', command: 'default' }), false);
      assert.equal(restarts({ type: 'worker', command: 'node other.js' }), true);
      assert.equal(restarts({ type: 'worker', memory: '64M' }), true);
      assert.equal(restarts({ type: 'worker', disk_quota: '2G' }), true);
      assert.equal(restarts({ type: 'worker', memory: '256KB' }), true);
      assert.equal(restarts({ type: 'web', 'health-check-type': 'http' }), true);
      assert.equal(restarts({ type: 'clock', instances: 1 }), true);
      assert.equal(restarts({ type: 'clock' }), false);
    });

    it('says when an entry\'s endpoint needs an http check the process does not have, before anything is created', () => {
      const http = process('web', { health_check: { type: 'http', data: { endpoint: '/' } } });
      assert.deepEqual(endpointProblems([http], [{ type: 'web', 'health-check-http-endpoint': '/h' }]), []);
      assert.deepEqual(endpointProblems([], [{ type: 'web', 'health-check-http-endpoint': '/h', 'health-check-type': 'http' }]), []);
      assert.deepEqual(endpointProblems([], [{ type: 'worker', health_check_http_endpoint: '/h' }]), [
        'Process "worker": the health check endpoint /h needs health-check-type http, and the process has the process health check: add health-check-type: http to its entry',
      ]);
      assert.match(endpointProblems([process('web')], [{ type: 'web', 'health-check-http-endpoint': '/h' }])[0], /has the port health check/);
    });
  });

  describe('files', () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-manifest-'))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('finds manifest.yml or manifest.yaml in a directory, and reads a directory given as the manifest', () => {
      assert.equal(findManifestIn(dir), undefined);
      fs.writeFileSync(path.join(dir, 'manifest.yaml'), 'applications:\n- name: a\n  path: app\n');
      assert.equal(findManifestIn(dir), path.join(dir, 'manifest.yaml'));
      const manifest = readManifest(dir);
      assert.equal(manifest.file, path.join(dir, 'manifest.yaml'));
      assert.equal(manifest.apps[0].path, path.join(dir, 'app'));
      fs.writeFileSync(path.join(dir, 'manifest.yml'), 'applications:\n- name: b\n');
      assert.equal(findManifestIn(dir), path.join(dir, 'manifest.yml'));
    });

    it('says when the file is missing, and refuses huge files', () => {
      assert.throws(() => readManifest(path.join(dir, 'nope.yml')), (error: Error) => error instanceof CliError && /does not exist/.test(error.message));
      fs.writeFileSync(path.join(dir, 'big.yml'), `# ${'x'.repeat(1024 * 1024 + 10)}\n`);
      assert.throws(() => readManifest(path.join(dir, 'big.yml')), (error: Error) => error instanceof ManifestError && /at most 1048576/.test(error.message));
    });
  });
});
