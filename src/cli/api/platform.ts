// What the platform offers rather than users create (CC v3 `/v3/buildpacks`, `/v3/stacks`): the
// built-in buildpacks in the order detection tries them, and the stack.
import type { ApiClient } from './client.js';
import type { Resource } from './resources.js';

/** A buildpack as `/v3/buildpacks` shows it (the DEA's `Buildpack` is the directory it stages with). */
export interface BuildpackResource extends Resource {
  name: string;
  position: number;
  stack: string | null;
  state: string;
  enabled: boolean;
  locked: boolean;
  filename: string | null;
}

export interface Stack extends Resource {
  name: string;
  description: string | null;
  default?: boolean;
}

export class Platform {
  constructor(private readonly client: ApiClient) {}

  /** The buildpacks by position (the order detection tries them). */
  buildpacks(): Promise<BuildpackResource[]> {
    return this.client.list<BuildpackResource>('/v3/buildpacks', { order_by: 'position' });
  }

  stacks(): Promise<Stack[]> {
    return this.client.list<Stack>('/v3/stacks', { order_by: 'name' });
  }
}
