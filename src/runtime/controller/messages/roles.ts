// Role and user requests: create a role (`POST /v3/roles`), list roles and users. Each parse checks
// the request as Cloud Controller's RoleCreateMessage and list messages do.
import { ApiError, unprocessable } from '../errors.js';
import { ROLE_FILTERS, USER_FILTERS } from '../repositories/roles.js';
import { includeParam } from './include.js';
import { listMessage, ORDER_BY_TIME, type ListMessage } from './list.js';
import { allowOnly, asObject, optionalObject, type Body } from './validate.js';

export const ORGANIZATION_ROLES = ['organization_auditor', 'organization_manager', 'organization_billing_manager', 'organization_user'] as const;
export const SPACE_ROLES = ['space_auditor', 'space_developer', 'space_manager', 'space_supporter'] as const;
export const ALL_ROLES = [...ORGANIZATION_ROLES, ...SPACE_ROLES] as const;

export type OrganizationRoleType = (typeof ORGANIZATION_ROLES)[number];
export type SpaceRoleType = (typeof SPACE_ROLES)[number];
export type RoleType = OrganizationRoleType | SpaceRoleType;

export const isSpaceRole = (type: string): type is SpaceRoleType => (SPACE_ROLES as readonly string[]).includes(type);

/** Who gets the role: a user by guid, or by username (and origin, when given) as uaa knows them. */
export type RoleUser = { guid: string } | { username: string; origin?: string };

export type RoleCreateMessage = { user: RoleUser } & ({ type: OrganizationRoleType; organizationGuid: string } | { type: SpaceRoleType; spaceGuid: string });

/** `relationships.<name>.data.guid` as a string, or undefined when that relationship is absent. */
function relationship(relationships: Body, name: string): string | undefined {
  const rel = optionalObject(relationships, name);
  if (!rel) return undefined;
  const data = optionalObject(rel, 'data');
  const guid = data?.guid;
  if (typeof guid !== 'string' || guid === '') throw unprocessable(`Relationships ${name} must be provided with data.guid`);
  return guid;
}

function roleUser(relationships: Body): RoleUser {
  const user = optionalObject(relationships, 'user');
  const data = user && optionalObject(user, 'data');
  if (!data) throw unprocessable('Relationships user must have a username or guid specified');
  allowOnly(data, ['guid', 'username', 'origin']);
  const { guid, username, origin } = data;
  if (guid !== undefined && username !== undefined) throw unprocessable('Relationships username cannot be specified when identifying user by guid');
  if (guid !== undefined && origin !== undefined) throw unprocessable('Relationships user origin cannot be specified when identifying user by guid');
  if (guid === undefined && username === undefined) {
    throw unprocessable(origin !== undefined ? 'Relationships user origin cannot be specified without specifying the username' : 'Relationships user must have a username or guid specified');
  }
  if (guid !== undefined) {
    if (typeof guid !== 'string' || guid === '') throw unprocessable('Relationships user must be provided with data.guid');
    return { guid };
  }
  if (typeof username !== 'string' || username === '') throw unprocessable('Relationships username must be a string');
  if (origin !== undefined && origin !== null && typeof origin !== 'string') throw unprocessable('Relationships user origin must be a string');
  return typeof origin === 'string' ? { username, origin } : { username };
}

export function roleCreateMessage(raw: unknown): RoleCreateMessage {
  const body = asObject(raw);
  allowOnly(body, ['type', 'relationships']);
  const { type } = body;
  if (typeof type !== 'string' || !(ALL_ROLES as readonly string[]).includes(type)) {
    throw unprocessable(`Type must be one of the allowed types [${ALL_ROLES.map((r) => `"${r}"`).join(', ')}]`);
  }
  const relationships = optionalObject(body, 'relationships');
  if (!relationships) throw unprocessable('Relationships must be an object');
  allowOnly(relationships, ['user', 'organization', 'space']);
  const user = roleUser(relationships);
  const organizationGuid = relationship(relationships, 'organization');
  const spaceGuid = relationship(relationships, 'space');
  if (organizationGuid === undefined && spaceGuid === undefined) throw unprocessable('Relationships must specify either a space or an organization.');
  if (organizationGuid !== undefined && spaceGuid !== undefined) throw unprocessable('Relationships cannot specify both an organization and a space.');
  if (isSpaceRole(type)) {
    if (spaceGuid === undefined) throw unprocessable(`Relationships organization cannot be provided with the space role type: '${type}'.`);
    return { type, spaceGuid, user };
  }
  if (organizationGuid === undefined) throw unprocessable(`Relationships space cannot be provided with the organization role type: '${type}'.`);
  return { type: type as OrganizationRoleType, organizationGuid, user };
}

export const ROLE_INCLUDES = ['user', 'organization', 'space'] as const;

export type RoleListMessage = ListMessage<(typeof ROLE_FILTERS)[number]> & { include: string[] };

export function roleListMessage(query: URLSearchParams): RoleListMessage {
  const message = listMessage(query, ROLE_FILTERS, ORDER_BY_TIME);
  const types = message.filters.types;
  const wrong = types?.filter((t) => !(ALL_ROLES as readonly string[]).includes(t));
  if (wrong?.length) throw new ApiError('BadQueryParameter', `The query parameter is invalid: Types must be one of the allowed types [${ALL_ROLES.map((r) => `"${r}"`).join(', ')}]`);
  return { ...message, include: includeParam(query, ROLE_INCLUDES) };
}

/** `GET /v3/roles/:guid?include=…`. */
export const roleShowInclude = (query: URLSearchParams) => includeParam(query, ROLE_INCLUDES);

export function userListMessage(query: URLSearchParams): ListMessage<(typeof USER_FILTERS)[number]> {
  const message = listMessage(query, USER_FILTERS, ORDER_BY_TIME);
  const { origins, usernames, partial_usernames: partial } = message.filters;
  if (origins && !usernames && !partial) throw new ApiError('BadQueryParameter', 'The query parameter is invalid: Origins filter cannot be provided without usernames or partial_usernames filter.');
  if (usernames && partial) throw new ApiError('BadQueryParameter', 'The query parameter is invalid: Usernames filter cannot be provided with both usernames and partial_usernames filter.');
  return message;
}
