// The health check types a process may have, as Cloud Controller v3 has them: what devbox's CLI
// reads from a manifest and the API accepts. (A start message may also say `none`, v2's name for
// `process`: bus-messages.ts.) A module of its own, so the CLI reads it without the bus client.
export const PROCESS_HEALTH_CHECK_TYPES = ['port', 'http', 'process'] as const;
export type ProcessHealthCheckType = (typeof PROCESS_HEALTH_CHECK_TYPES)[number];
