// The headers gorouter adds to what it forwards (REFERENCE.md "gorouter"): X-Forwarded-For (the
// client appended), X-Forwarded-Proto (kept when the client sent one, else `https` for a request that
// came over the TLS port and `http` otherwise, as gorouter's default), X-Request-Start (epoch ms,
// only when absent), X-Vcap-Request-Id (always new), X-CF-ApplicationID and X-CF-InstanceID.
import type { Handler } from './types.js';

export function forwardedHeaders(): Handler {
  return {
    name: 'forwarded-headers',
    replacesRequestHeaders: ['x-forwarded-for', 'x-vcap-request-id', 'x-cf-applicationid', 'x-cf-instanceid'],
    requestHeaders(req) {
      const head = req.head;
      const endpoint = req.endpoint!;
      let out = `X-Forwarded-For: ${head.xForwardedFor === undefined ? req.clientIp : `${head.xForwardedFor}, ${req.clientIp}`}\r\n`;
      if (head.xForwardedProto === undefined) out += req.tls ? 'X-Forwarded-Proto: https\r\n' : 'X-Forwarded-Proto: http\r\n';
      if (head.xRequestStart === undefined) out += `X-Request-Start: ${req.startedAt}\r\n`;
      out += `X-Vcap-Request-Id: ${req.id}\r\n`;
      if (endpoint.app) out += `X-CF-ApplicationID: ${endpoint.app}\r\n`;
      out += `X-CF-InstanceID: ${endpoint.privateInstanceId || endpoint.key}\r\n`;
      return out;
    },
  };
}
