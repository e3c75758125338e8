// Sticky sessions (gorouter): when a response sets JSESSIONID, the router adds a __VCAP_ID__ cookie
// naming the instance; a request carrying both cookies goes back to that instance while it is
// registered. When that instance has gone, another is picked and __VCAP_ID__ is set to it.
import type { Endpoint } from '../registry.js';
import type { Handler, RequestInfo } from './types.js';

export const VCAP_COOKIE = '__VCAP_ID__';
export const SESSION_COOKIE = 'JSESSIONID';

/** The value of cookie `name` in a Cookie header, or undefined. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The instance a request asks to stick to: __VCAP_ID__, when JSESSIONID comes with it. */
function stickyInstance(req: RequestInfo): string | undefined {
  const cookie = req.head.cookie;
  if (cookie === undefined || !cookie.includes(VCAP_COOKIE) || !cookie.includes(SESSION_COOKIE)) return undefined;
  if (cookieValue(cookie, SESSION_COOKIE) === undefined) return undefined;
  return cookieValue(cookie, VCAP_COOKIE) || undefined;
}

/** Max-Age, Expires, Secure and SameSite of a Set-Cookie value, to give __VCAP_ID__ the same life. */
function lifetimeAttributes(setCookie: string): string {
  let out = '';
  for (const part of setCookie.split(';').slice(1)) {
    const attr = part.trim();
    const name = attr.split('=')[0].toLowerCase();
    if (name === 'max-age' || name === 'expires' || name === 'samesite') out += `; ${attr}`;
    else if (name === 'secure') out += '; Secure';
  }
  return out;
}

const vcapCookie = (endpoint: Endpoint, attributes = '') => `Set-Cookie: ${VCAP_COOKIE}=${endpoint.privateInstanceId}; Path=/; HttpOnly${attributes}\r\n`;

export function stickySession(): Handler {
  return {
    name: 'sticky-session',
    choose(req) {
      const instance = stickyInstance(req);
      return instance === undefined ? undefined : req.pool?.findInstance(instance);
    },
    responseHeaders(req, res) {
      const endpoint = req.endpoint;
      if (!endpoint?.privateInstanceId) return '';
      if (res.jsessionCookie !== undefined) return vcapCookie(endpoint, lifetimeAttributes(res.jsessionCookie));
      const wanted = stickyInstance(req);
      // The instance asked for is gone: point the session at the one that answered.
      if (wanted !== undefined && wanted !== endpoint.privateInstanceId) return vcapCookie(endpoint);
      return '';
    },
  };
}
