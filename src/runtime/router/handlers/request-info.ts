// Gives every request its id (X-Vcap-Request-Id) and start time before anything else looks at it.
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Handler } from './types.js';

export function requestInfo(): Handler {
  return {
    name: 'request-info',
    request(req) {
      req.id = randomUUID();
      req.startedAt = Date.now();
      req.startedHr = performance.now();
      return undefined;
    },
  };
}
