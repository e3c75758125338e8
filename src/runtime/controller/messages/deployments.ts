// Deployment requests (CC v3): create (an app, optionally a droplet, strategy rolling, options).
import { unprocessable } from '../errors.js';
import { allowOnly, asObject, metadataUpdate, optionalInteger, optionalObject, optionalString, relationshipGuid } from './validate.js';

export const DEPLOYMENT_STRATEGIES = ['rolling'] as const;

export interface DeploymentCreateMessage {
  appGuid: string;
  /** The droplet to deploy; the app's current one when absent (a rolling restart). */
  dropletGuid?: string;
  maxInFlight: number;
  metadata: { labels: Record<string, string>; annotations: Record<string, string> };
}

export function deploymentCreateMessage(raw: unknown): DeploymentCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['relationships', 'droplet', 'revision', 'strategy', 'options', 'metadata']);
  const strategy = optionalString(body, 'strategy') ?? 'rolling';
  if (!(DEPLOYMENT_STRATEGIES as readonly string[]).includes(strategy)) throw unprocessable(`Strategy '${strategy}' is not supported: devbox deploys with 'rolling'`);
  if (body.revision !== undefined) throw unprocessable('Revisions are not supported by devbox: deploy a droplet instead');
  const droplet = optionalObject(body, 'droplet');
  if (droplet) allowOnly(droplet, ['guid']);
  const dropletGuid = droplet ? optionalString(droplet, 'guid') : undefined;
  if (droplet && !dropletGuid) throw unprocessable('Droplet guid must be given');
  const options = optionalObject(body, 'options');
  if (options) allowOnly(options, ['max_in_flight']);
  return {
    appGuid: relationshipGuid(body, 'app'),
    dropletGuid,
    maxInFlight: (options && optionalInteger(options, 'max_in_flight', { min: 1, max: 100 })) ?? 1,
    metadata: metadataUpdate(body, { labels: {}, annotations: {} }),
  };
}
