// The router's request pipeline, in order: gorouter's handler chain reduced to what devbox needs.
import { accessLog, type AccessLogSink } from './access-log.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { healthCheck } from './health-check.js';
import { requestInfo } from './request-info.js';
import { stickySession } from './sticky-session.js';
import type { Handler } from './types.js';

export type { AccessLogSink, Handler };

export function defaultHandlers({ accessLogSink }: { accessLogSink?: AccessLogSink } = {}): Handler[] {
  const handlers = [requestInfo(), healthCheck(), forwardedHeaders(), stickySession()];
  if (accessLogSink) handlers.push(accessLog(accessLogSink));
  return handlers;
}
