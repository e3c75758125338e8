// The app summary as `cf app` and the end of `cf push` print it: the app block, then per process its
// block and the instances table (`#0   running   2026-11-21T10:00:00Z   0.3%   40M of 256M   100M of 1G`).
import type { AppSummary, ProcessSummary } from './api/apps.js';
import type { ProcessInstanceStats } from './api/resources.js';
import { keyValues, table } from './output.js';
import { byteSize, formatMegabytes, sinceTime, uploadedTime } from './units.js';

export function appBuildpacks({ app, droplet }: Pick<AppSummary, 'app' | 'droplet'>): string[] {
  return droplet?.buildpacks?.map((b) => b.buildpack_name ?? b.name) ?? app.lifecycle.data.buildpacks;
}

export function renderAppSummary(summary: AppSummary): string {
  const { app, processes, routes, droplet } = summary;
  const blocks = [
    keyValues([
      ['name', app.name],
      ['requested state', app.state.toLowerCase()],
      ['routes', routes.join(', ')],
      ['last uploaded', droplet ? uploadedTime(droplet.created_at) : ''],
      ['stack', app.lifecycle.data.stack],
      ['buildpacks', appBuildpacks(summary).join(', ')],
    ]),
  ];
  for (const p of processes) blocks.push(renderProcess(p, droplet?.process_types?.[p.type]));
  return blocks.join('\n\n');
}

function renderProcess(p: ProcessSummary, detectedCommand: string | undefined): string {
  const block = keyValues([
    ['type', p.type],
    ['instances', `${p.running}/${p.instances}`],
    ['memory usage', formatMegabytes(p.memory_in_mb)],
    ['start command', p.command ?? detectedCommand ?? ''],
  ]);
  // Nothing is invented: no table until the API reports instances (a stopped app has none).
  return p.stats.length > 0 ? `${block}\n${instancesTable(p.stats, p)}` : block;
}

/** cf's instance table; quotas from the stats, else from the process. */
export function instancesTable(stats: ProcessInstanceStats[], quota?: { memory_in_mb: number; disk_in_mb: number }, now = Date.now()): string {
  return table(
    ['', 'state', 'since', 'cpu', 'memory', 'disk', 'details'],
    stats.map((s) => {
      const memQuota = s.mem_quota ?? (quota ? quota.memory_in_mb * 1024 * 1024 : 0);
      const diskQuota = s.disk_quota ?? (quota ? quota.disk_in_mb * 1024 * 1024 : 0);
      return [
        `#${s.index}`,
        s.state.toLowerCase(),
        instanceSince(s, now),
        `${((s.usage?.cpu ?? 0) * 100).toFixed(1)}%`,
        `${byteSize(s.usage?.mem ?? 0)} of ${byteSize(memQuota)}`,
        `${byteSize(s.usage?.disk ?? 0)} of ${byteSize(diskQuota)}`,
        s.details ?? '',
      ];
    }),
  );
}

/** When the instance started (running: now − uptime), else when it entered its state. */
function instanceSince(s: ProcessInstanceStats, now: number): string {
  if (s.state === 'RUNNING' && s.uptime && s.uptime > 0) return sinceTime(new Date(now - s.uptime * 1000));
  if (typeof s.since === 'number' && s.since > 0) return sinceTime(new Date(s.since * 1000));
  return '';
}
