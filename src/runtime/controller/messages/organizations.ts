// Organization and space requests: create. Each parse checks the body as Cloud Controller does.
import type { Metadata } from '../context.js';
import { allowOnly, asObject, metadataUpdate, relationshipGuid, requiredString } from './validate.js';

export interface OrganizationCreateMessage {
  name: string;
  metadata: Metadata;
}

export interface SpaceCreateMessage {
  name: string;
  organizationGuid: string;
  metadata: Metadata;
}

export function organizationCreateMessage(raw: unknown): OrganizationCreateMessage {
  const body = asObject(raw);
  // `suspended` is accepted and ignored: a devbox organization is never suspended.
  allowOnly(body, ['name', 'suspended', 'metadata']);
  return { name: requiredString(body, 'name'), metadata: metadataUpdate(body, { labels: {}, annotations: {} }) };
}

export function spaceCreateMessage(raw: unknown): SpaceCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['name', 'relationships', 'metadata']);
  return {
    name: requiredString(body, 'name'),
    organizationGuid: relationshipGuid(body, 'organization'),
    metadata: metadataUpdate(body, { labels: {}, annotations: {} }),
  };
}
