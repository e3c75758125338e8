// The router's /varz counters: requests, responses by status class, bad requests, backend errors
// and a latency histogram. Histograms merge by adding buckets, so the counters of several router
// processes add up to the component's figures.

/** Bucket i holds latencies in [GROWTH^i, GROWTH^(i+1)) microseconds: about 5 % precision. */
const GROWTH = 1.05;
const LOG_GROWTH = Math.log(GROWTH);
const BUCKETS = 480; // up to ~1.4e10 µs (about 4 hours)

export interface StatsSnapshot {
  requests: number;
  responses_1xx: number;
  responses_2xx: number;
  responses_3xx: number;
  responses_4xx: number;
  responses_5xx: number;
  /** Requests the router could not parse (400, 431, 505). */
  bad_requests: number;
  /** 502s: every attempt to reach a backend failed, or it broke off. */
  bad_gateways: number;
  /** 504s: a backend did not answer in time. */
  gateway_timeouts: number;
  /** Connections to backends that could not be made (each retried attempt counts). */
  backend_connect_failures: number;
  /** Requests whose client went away before the response was complete. */
  client_aborts: number;
  websocket_upgrades: number;
  /** Connections accepted on the TLS port (handshake done). */
  tls_connections: number;
  /** TLS handshakes that failed or did not finish in time. */
  tls_handshake_failures: number;
  /** Requests that waited for the route table after the router started (docs/router.md, "Restarts"). */
  held_at_start: number;
  /** Requests whose body did not come in time (408, or cut off once the response had begun). */
  request_body_timeouts: number;
  /** Sparse latency histogram: bucket index → count. */
  latency_buckets: Record<string, number>;
  latency_sum_us: number;
}

export interface LatencySummary {
  samples: number;
  avg_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
}

export class RouterStats {
  requests = 0;
  responses = [0, 0, 0, 0, 0, 0];
  badRequests = 0;
  badGateways = 0;
  gatewayTimeouts = 0;
  backendConnectFailures = 0;
  clientAborts = 0;
  websocketUpgrades = 0;
  tlsConnections = 0;
  tlsHandshakeFailures = 0;
  heldAtStart = 0;
  requestBodyTimeouts = 0;
  private readonly buckets = new Float64Array(BUCKETS);
  private latencySumUs = 0;

  /** Counts a finished request: its status and how long the router took end to end. */
  response(status: number, micros: number): void {
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) this.responses[cls]++;
    const us = micros < 1 ? 1 : micros;
    let i = (Math.log(us) / LOG_GROWTH) | 0;
    if (i >= BUCKETS) i = BUCKETS - 1;
    this.buckets[i]++;
    this.latencySumUs += micros;
  }

  snapshot(): StatsSnapshot {
    const latency: Record<string, number> = {};
    for (let i = 0; i < BUCKETS; i++) if (this.buckets[i] !== 0) latency[i] = this.buckets[i];
    return {
      requests: this.requests,
      responses_1xx: this.responses[1],
      responses_2xx: this.responses[2],
      responses_3xx: this.responses[3],
      responses_4xx: this.responses[4],
      responses_5xx: this.responses[5],
      bad_requests: this.badRequests,
      bad_gateways: this.badGateways,
      gateway_timeouts: this.gatewayTimeouts,
      backend_connect_failures: this.backendConnectFailures,
      client_aborts: this.clientAborts,
      websocket_upgrades: this.websocketUpgrades,
      tls_connections: this.tlsConnections,
      tls_handshake_failures: this.tlsHandshakeFailures,
      held_at_start: this.heldAtStart,
      request_body_timeouts: this.requestBodyTimeouts,
      latency_buckets: latency,
      latency_sum_us: this.latencySumUs,
    };
  }
}

/** Adds snapshots of several processes together. */
export function mergeSnapshots(snapshots: StatsSnapshot[]): StatsSnapshot {
  const out: StatsSnapshot = {
    requests: 0,
    responses_1xx: 0,
    responses_2xx: 0,
    responses_3xx: 0,
    responses_4xx: 0,
    responses_5xx: 0,
    bad_requests: 0,
    bad_gateways: 0,
    gateway_timeouts: 0,
    backend_connect_failures: 0,
    client_aborts: 0,
    websocket_upgrades: 0,
    tls_connections: 0,
    tls_handshake_failures: 0,
    held_at_start: 0,
    request_body_timeouts: 0,
    latency_buckets: {},
    latency_sum_us: 0,
  };
  for (const s of snapshots) {
    for (const key of Object.keys(out) as (keyof StatsSnapshot)[]) {
      if (key === 'latency_buckets') continue;
      out[key] += s[key];
    }
    for (const [i, n] of Object.entries(s.latency_buckets)) out.latency_buckets[i] = (out.latency_buckets[i] ?? 0) + n;
  }
  return out;
}

/** Percentiles from a histogram (each reported as its bucket's upper bound, in ms). */
export function summarizeLatency(s: StatsSnapshot): LatencySummary {
  const entries = Object.entries(s.latency_buckets)
    .map(([i, n]) => [Number(i), n] as const)
    .sort((a, b) => a[0] - b[0]);
  const samples = entries.reduce((sum, [, n]) => sum + n, 0);
  const at = (q: number) => {
    if (samples === 0) return 0;
    const rank = Math.ceil(q * samples);
    let seen = 0;
    for (const [i, n] of entries) {
      seen += n;
      if (seen >= rank) return Math.round(GROWTH ** (i + 1)) / 1000;
    }
    return 0;
  };
  return {
    samples,
    avg_ms: samples === 0 ? 0 : Math.round(s.latency_sum_us / samples) / 1000,
    p50_ms: at(0.5),
    p90_ms: at(0.9),
    p99_ms: at(0.99),
  };
}

/** The /varz fields for a snapshot: counters plus the latency summary (without the raw buckets). */
export function varzFields(s: StatsSnapshot): Record<string, unknown> {
  const { latency_buckets: _buckets, latency_sum_us: _sum, ...counters } = s;
  return { ...counters, latency: summarizeLatency(s) };
}
