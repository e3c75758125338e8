// App and space features (CC v3's AppSshFeaturePresenter, AppRevisionsFeaturePresenter,
// SpaceSshFeaturePresenter, AppSshStatusPresenter): `{name, description, enabled}`, and whether
// ssh into an app is on with Cloud Controller's reason when it is not.
import type { Urls } from '../context.js';
import { APP_FEATURE_COLUMNS, type AppFeatureName, type AppRow } from '../repositories/apps.js';
import type { SpaceRow } from '../repositories/spaces.js';

const DESCRIPTIONS: Record<AppFeatureName, string> = {
  ssh: 'Enable SSHing into the app.',
  revisions: 'Enable versioning of an application',
};

export const presentAppFeature = (app: AppRow, name: AppFeatureName) => ({ name, description: DESCRIPTIONS[name], enabled: app[APP_FEATURE_COLUMNS[name]] === 1 });

/** Every feature of the app, in one page whose links carry no query (as Cloud Controller's). */
export function presentAppFeatures(app: AppRow, ctx: { urls: Urls }) {
  const resources = (Object.keys(APP_FEATURE_COLUMNS) as AppFeatureName[]).map((name) => presentAppFeature(app, name));
  const href = `${ctx.urls.api}/v3/apps/${app.guid}/features`;
  return { resources, pagination: { total_results: resources.length, total_pages: 1, first: { href }, last: { href }, next: null, previous: null } };
}

export const presentSpaceSshFeature = (space: SpaceRow) => ({ name: 'ssh', description: 'Enable SSHing into apps in the space.', enabled: space.allow_ssh === 1 });

/**
 * `GET /v3/apps/:guid/ssh_enabled`, and the rule ssh access follows (CC's AppSshEnabled): on when
 * both the space and the app allow it; the reason names the first that does not (devbox has no
 * global switch, so never `ssh is disabled globally`).
 */
export function presentSshStatus(app: Pick<AppRow, 'enable_ssh'>, space: Pick<SpaceRow, 'name' | 'allow_ssh'>): { enabled: boolean; reason: string } {
  if (space.allow_ssh !== 1) return { enabled: false, reason: `ssh is disabled for space '${space.name}'` };
  if (app.enable_ssh !== 1) return { enabled: false, reason: 'ssh is disabled for app' };
  return { enabled: true, reason: '' };
}
