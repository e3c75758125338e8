// gorouter's own health check: a load balancer asking with `User-Agent: HTTP-Monitor/1.1` gets 200
// from the router itself, whatever the Host.
import type { Handler } from './types.js';

export const HEALTH_CHECK_USER_AGENT = 'HTTP-Monitor/1.1';

export function healthCheck(): Handler {
  return {
    name: 'health-check',
    request: (req) => (req.head.userAgent === HEALTH_CHECK_USER_AGENT ? { status: 200, body: 'ok\n' } : undefined),
  };
}
