// What an app runs from: packages (its files, uploaded once: only those the API lacks), builds
// (a package staged by a buildpack) and the droplets they make.
import { randomBytes } from 'node:crypto';
import type { ApiClient } from './client.js';
import type { Build, Droplet, FileResource, Package } from './resources.js';

/** How many resources one resource_matches request asks about (the API's JSON bodies are at most 1 MiB). */
const RESOURCE_MATCH_BATCH = 1000;

export class Builds {
  constructor(private readonly client: ApiClient) {}

  /** Which of these files the API has already (by sha1 and size), asked in batches. */
  async resourceMatches(resources: FileResource[]): Promise<FileResource[]> {
    const known: FileResource[] = [];
    for (let i = 0; i < resources.length; i += RESOURCE_MATCH_BATCH) {
      const batch = resources.slice(i, i + RESOURCE_MATCH_BATCH);
      const answer = await this.client.call<{ resources: { checksum: { value: string }; size_in_bytes: number }[] }>('POST', '/v3/resource_matches', { resources: batch });
      const have = new Set(answer.resources.map((r) => `${r.checksum.value}:${r.size_in_bytes}`));
      known.push(...batch.filter((r) => have.has(`${r.checksum.value}:${r.size_in_bytes}`)));
    }
    return known;
  }

  createPackage(appGuid: string): Promise<Package> {
    return this.client.call<Package>('POST', '/v3/packages', { type: 'bits', relationships: { app: { data: { guid: appGuid } } } });
  }

  /**
   * Uploads a package: the matched files (`resources`) and a gzipped tarball of the others (`bits`,
   * made anew by `bits()` for each attempt; none when everything matched), as multipart/form-data.
   */
  async uploadPackage(packageGuid: string, matched: FileResource[], bits?: () => AsyncIterable<Buffer>): Promise<Package> {
    const boundary = `devbox-${randomBytes(12).toString('hex')}`;
    const body = async function* (): AsyncIterable<Buffer> {
      yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="resources"\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(matched)}\r\n`);
      if (bits) {
        yield Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="bits"; filename="application.tgz"\r\nContent-Type: application/gzip\r\n\r\n`);
        yield* bits();
        yield Buffer.from('\r\n');
      }
      yield Buffer.from(`--${boundary}--\r\n`);
    };
    const res = await this.client.sendStream('POST', `/v3/packages/${packageGuid}/upload`, body, { 'content-type': `multipart/form-data; boundary=${boundary}` });
    return JSON.parse(res.text) as Package;
  }

  /** The app's newest package that is ready to stage, if any. */
  async latestReadyPackage(appGuid: string): Promise<Package | undefined> {
    const packages = await this.client.firstPage<Package>('/v3/packages', { app_guids: appGuid, states: 'READY', order_by: '-created_at', per_page: '1' });
    return packages.find((p) => p.state === 'READY');
  }

  /** Starts staging the package (the build is STAGING; see lifecycle.ts for the wait). */
  create(packageGuid: string): Promise<Build> {
    return this.client.call<Build>('POST', '/v3/builds', { package: { guid: packageGuid } });
  }

  get(guid: string): Promise<Build> {
    return this.client.call<Build>('GET', `/v3/builds/${guid}`);
  }

  droplet(guid: string): Promise<Droplet> {
    return this.client.call<Droplet>('GET', `/v3/droplets/${guid}`);
  }
}
