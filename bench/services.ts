// Provision and bind latency of the built-in services as the API answers them: controller → broker
// (mysql-gateway, redis-gateway) → node → MariaDB or a redis-server of its own and back, from the
// request to its job's end, p50 and p99 over sequential requests on a real box.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { freePort, waitFor } from '../src/runtime/common/net.js';
import { DEVBOX_BIN } from '../src/runtime/supervisor/supervisor.js';
import { boxApi, jobOutcome } from '../test/helpers/api.js';
import { printTable, type BenchRow } from './lib.js';

const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))];

/** The built-in services measured: each offering with the plan provisioned. */
const SERVICES = [
  { label: 'MySQL', offering: 'p-mysql', plan: 'small' },
  { label: 'Redis', offering: 'p-redis', plan: 'shared-vm' },
] as const;

/** How often the bench asks for a job's state: often, so that the figure is the work's, not the wait between asks. */
const JOB_POLL_MS = 2;

export async function benchServices(count = 20): Promise<BenchRow[]> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-bench-services-'));
  const port = await freePort();
  const devbox = (args: string[]) => execa(process.execPath, [DEVBOX_BIN, ...args], { env: { DEVBOX_HOME: home }, reject: false, timeout: 120_000 });
  const rows: BenchRow[] = [];
  try {
    const up = await devbox(['up', '-d', '--port', String(port)]);
    if (up.exitCode !== 0) throw new Error(`devbox up failed: ${up.stdout}${up.stderr}`);
    const api = await boxApi(home, port);
    const space = (await api.call('GET', '/v3/spaces?names=dev')).json().resources[0].guid as string;
    /** A create from the request to its job's end (the API answers 202 at once: docs/services.md), and its guid, found by name. */
    const timed = async (url: string, body: { name: string; [field: string]: unknown }) => {
      const start = process.hrtime.bigint();
      const job = await jobOutcome(api, await api.call('POST', url, body), 60_000, JOB_POLL_MS);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      if (job.state !== 'COMPLETE') throw new Error(`POST ${url}: ${JSON.stringify(job.errors)}`);
      return { ms, guid: (await api.call('GET', `${url}?names=${encodeURIComponent(body.name)}`)).json().resources[0].guid as string };
    };
    for (const service of SERVICES) {
      const plan = await waitFor(`the ${service.offering} broker and its ${service.plan} plan`, async () => (await api.call('GET', `/v3/service_plans?names=${service.plan}&service_offering_names=${service.offering}`)).json().resources?.[0]?.guid as string | undefined, { timeoutMs: 60_000, intervalMs: 250 });
      const instanceBody = (name: string) => ({ type: 'managed', name, relationships: { space: { data: { guid: space } }, service_plan: { data: { guid: plan } } } });
      // A node serves once its server is up (MySQL's private MariaDB): the first provision waits for it, unmeasured.
      const first = await waitFor(`a first ${service.offering} provision`, async () => {
        const name = `warm-up-${service.offering}-${Date.now()}`;
        const job = await jobOutcome(api, await api.call('POST', '/v3/service_instances', instanceBody(name)));
        return job.state === 'COMPLETE' ? ((await api.call('GET', `/v3/service_instances?names=${name}`)).json().resources[0].guid as string) : undefined;
      }, { timeoutMs: 60_000, intervalMs: 500 });
      await jobOutcome(api, await api.call('DELETE', `/v3/service_instances/${first}`));
      const provision: number[] = [];
      const bind: number[] = [];
      for (let i = 0; i < count; i++) {
        const instance = await timed('/v3/service_instances', instanceBody(`bench-${service.offering}-${i}`));
        provision.push(instance.ms);
        const key = await timed('/v3/service_credential_bindings', { type: 'key', name: `key-${i}`, relationships: { service_instance: { data: { guid: instance.guid } } } });
        bind.push(key.ms);
        await jobOutcome(api, await api.call('DELETE', `/v3/service_credential_bindings/${key.guid}`));
        await jobOutcome(api, await api.call('DELETE', `/v3/service_instances/${instance.guid}`));
      }
      rows.push(
        { name: `${service.label} provision p50`, unit: 'ms', devbox: percentile(provision, 50), higherIsBetter: false },
        { name: `${service.label} provision p99`, unit: 'ms', devbox: percentile(provision, 99), higherIsBetter: false },
        { name: `${service.label} bind p50`, unit: 'ms', devbox: percentile(bind, 50), higherIsBetter: false },
        { name: `${service.label} bind p99`, unit: 'ms', devbox: percentile(bind, 99), higherIsBetter: false },
      );
    }
  } finally {
    await devbox(['down']);
    fs.rmSync(home, { recursive: true, force: true });
  }
  return rows;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) printTable(await benchServices());
