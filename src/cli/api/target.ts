// Which org and space commands work in: the session's target, set by name (`target -o -s`), chosen
// after `login`, or devbox/dev in a new session after `devbox up`.
import { CliError } from '../base-command.js';
import type { Named } from '../session.js';
import type { ApiClient } from './client.js';
import type { Organization, Resource, Space } from './resources.js';

export const DEFAULT_ORG = 'devbox';
export const DEFAULT_SPACE = 'dev';

/** Where a command works: the API, the user, and the targeted org and space. */
export interface Target {
  api: string;
  user: string;
  org: Named;
  space: Named;
}

export class Targeting {
  constructor(private readonly client: ApiClient) {}

  /** The targeted org and space, or a CliError saying how to target them. */
  current(): Target {
    const { session } = this.client;
    const { org, space } = session;
    if (!org && !space) throw new CliError("No org and space targeted, use 'devbox target -o ORG -s SPACE' to target an org and space.");
    if (!org) throw new CliError("No org targeted, use 'devbox target -o ORG' to target an org.");
    if (!space) throw new CliError("No space targeted, use 'devbox target -s SPACE' to target a space.");
    return { api: session.api, user: session.user, org, space };
  }

  /**
   * Targets an org (by name; the current one when omitted) and a space in it. Targeting an org without
   * naming a space targets its only space, or none when it has several (as cf does).
   */
  async set(orgName?: string, spaceName?: string): Promise<{ org?: Named; space?: Named }> {
    const { session, orgs } = this.client;
    let org: Named | undefined = session.org;
    let space: Named | undefined = session.space;
    if (orgName !== undefined) {
      const found = await orgs.get(orgName);
      org = { guid: found.guid, name: found.name };
      const spaces = spaceName === undefined ? await orgs.spaces(org.guid) : [];
      space = spaces.length === 1 ? { guid: spaces[0].guid, name: spaces[0].name } : undefined;
    }
    if (spaceName !== undefined) {
      if (!org) throw new CliError("No org targeted, use 'devbox target -o ORG -s SPACE' to target an org and a space in it.");
      const found = await orgs.space(org, spaceName);
      space = { guid: found.guid, name: found.name };
    }
    session.setTarget(org, space);
    return { org, space };
  }

  /**
   * The target after `login`: the given org/space; else the previous target when it still exists;
   * else devbox/dev; else the only org (space); else what `choose` picks (a prompt at a terminal).
   */
  async afterLogin(orgName?: string, spaceName?: string, choose?: (kind: 'org' | 'space', names: string[]) => Promise<string | undefined>): Promise<{ org?: Named; space?: Named }> {
    const { session, orgs } = this.client;
    const exists = async <T extends Resource>(path: string, guid?: string) => !!guid && (await this.client.list<T>(path, { guids: guid })).length > 0;
    let org: Named | undefined;
    if (orgName !== undefined) {
      const found = await orgs.get(orgName);
      org = { guid: found.guid, name: found.name };
    } else if (await exists<Organization>('/v3/organizations', session.org?.guid)) {
      org = session.org;
    } else {
      const all = await orgs.list();
      const pick = all.find((o) => o.name === DEFAULT_ORG) ?? (all.length === 1 ? all[0] : undefined);
      const name = pick?.name ?? (await choose?.('org', all.map((o) => o.name)));
      const found = all.find((o) => o.name === name);
      org = found && { guid: found.guid, name: found.name };
    }
    let space: Named | undefined;
    if (org && spaceName !== undefined) {
      const found = await orgs.space(org, spaceName);
      space = { guid: found.guid, name: found.name };
    } else if (org && org.guid === session.org?.guid && (await exists<Space>('/v3/spaces', session.space?.guid))) {
      space = session.space;
    } else if (org) {
      const spaces = await orgs.spaces(org.guid);
      const pick = spaces.find((s) => s.name === DEFAULT_SPACE && org.name === DEFAULT_ORG) ?? (spaces.length === 1 ? spaces[0] : undefined);
      const name = pick?.name ?? (await choose?.('space', spaces.map((s) => s.name)));
      const found = spaces.find((s) => s.name === name);
      space = found && { guid: found.guid, name: found.name };
    }
    session.setTarget(org, space);
    return { org, space };
  }

  /** devbox/dev when they exist (a new session after `up`); nothing targeted otherwise. */
  async useDefault(): Promise<void> {
    const [org] = await this.client.list<Organization>('/v3/organizations', { names: DEFAULT_ORG });
    if (!org) return;
    const [space] = await this.client.list<Space>('/v3/spaces', { organization_guids: org.guid, names: DEFAULT_SPACE });
    this.client.session.setTarget({ guid: org.guid, name: org.name }, space ? { guid: space.guid, name: space.name } : undefined);
  }
}
