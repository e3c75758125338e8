// Feature updates (CC v3's AppFeatureUpdateMessage and SpaceFeatureUpdateMessage):
// `{"enabled": true|false}` and nothing else, every problem in one 422 as Cloud Controller words it.
import { unprocessable } from '../errors.js';
import { asObject } from './validate.js';

export interface FeatureUpdateMessage {
  enabled: boolean;
}

export function featureUpdateMessage(raw: unknown): FeatureUpdateMessage {
  const body = asObject(raw);
  const problems: string[] = [];
  const unknown = Object.keys(body).filter((key) => key !== 'enabled');
  if (unknown.length > 0) problems.push(`Unknown field(s): '${unknown.join("', '")}'`);
  // CC's BooleanValidator: true or false only (a missing field, null or "true" are not).
  if (typeof body.enabled !== 'boolean') problems.push('Enabled must be a boolean');
  if (problems.length > 0) throw unprocessable(problems.join(', '));
  return { enabled: body.enabled as boolean };
}
