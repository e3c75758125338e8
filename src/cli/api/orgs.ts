// Orgs and spaces: listed, found by name, and spaces created.
import { CliError } from '../base-command.js';
import type { Named } from '../session.js';
import type { ApiClient } from './client.js';
import type { Organization, Space } from './resources.js';
import { ApiRequestError } from './transport.js';

export class Orgs {
  constructor(private readonly client: ApiClient) {}

  list(): Promise<Organization[]> {
    return this.client.list<Organization>('/v3/organizations', { order_by: 'name' });
  }

  /** The org called `name`, or a CliError naming it. */
  async get(name: string): Promise<Organization> {
    const [org] = await this.client.list<Organization>('/v3/organizations', { names: name });
    if (!org) throw new CliError(`Organization '${name}' not found. 'devbox orgs' lists the organizations.`);
    return org;
  }

  spaces(orgGuid: string): Promise<Space[]> {
    return this.client.list<Space>('/v3/spaces', { organization_guids: orgGuid, order_by: 'name' });
  }

  /** The org's space called `name`, or a CliError naming it. */
  async space(org: Named, name: string): Promise<Space> {
    const [space] = await this.client.list<Space>('/v3/spaces', { organization_guids: org.guid, names: name });
    if (!space) throw new CliError(`Space '${name}' not found in org ${org.name}. 'devbox spaces' lists its spaces.`);
    return space;
  }

  /** Creates a space; undefined when it exists already (cf answers that with OK). */
  async createSpace(org: Named, name: string): Promise<Space | undefined> {
    try {
      return await this.client.call<Space>('POST', '/v3/spaces', { name, relationships: { organization: { data: { guid: org.guid } } } });
    } catch (error) {
      if (error instanceof ApiRequestError && error.title === 'CF-UniquenessError') return undefined;
      throw error;
    }
  }
}
