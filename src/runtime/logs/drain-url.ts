// A syslog drain URL as Loggregator's syslog agent reads one (loggregator-agent-release:
// pkg/binding/poller.go checks it, pkg/ingress/bindings/binding_config.go reads its parameters):
//
//   syslog://HOST:PORT       RFC 5424 over TCP, RFC 6587 octet counting (port 514 when left out)
//   syslog-tls://HOST:PORT   the same over TLS (port 6514, RFC 5425's, when left out)
//   https://[USER:PASS@]HOST[:PORT]/PATH   one HTTP POST per message (text/plain), basic auth from the URL
//   http://…                 the same without TLS: devbox's own, for a receiver on the machine
//
// Parameters, as Loggregator's: `disable-metadata=true` (or `omit-metadata=true`) leaves the
// structured data out; `drain-type=metrics` / `drain-data=metrics|traces` asks for no logs (devbox has
// no metrics or traces, so such a drain gets nothing); `logs`, `all` and no parameter get the logs.
// What is shown of a URL (in logs, in the app's `LGR` lines, in /varz) has neither its user
// information nor its query, as Loggregator's "anonymized" URL.

export type DrainScheme = 'syslog' | 'syslog-tls' | 'https' | 'http';

export const DRAIN_SCHEMES: readonly DrainScheme[] = ['syslog', 'syslog-tls', 'https', 'http'];

const DEFAULT_PORTS: Record<DrainScheme, number> = { syslog: 514, 'syslog-tls': 6514, https: 443, http: 80 };

export interface DrainTarget {
  /** The URL as bound (credentials included: never log it). */
  raw: string;
  scheme: DrainScheme;
  /** The host name or address, without IPv6 brackets. */
  host: string;
  port: number;
  /** For HTTP drains: the path and query sent (the URL's own). */
  path: string;
  /** `Basic …` from the URL's user information (HTTP drains), else undefined. */
  authorization?: string;
  /** The URL without user information and query: what may be shown. */
  anonymized: string;
  /** Leave out the structured data. */
  omitMetadata: boolean;
  /** False when the drain asks for metrics or traces only: it gets no log lines. */
  logs: boolean;
}

export type ParsedDrain = { ok: true; target: DrainTarget } | { ok: false; reason: string; anonymized: string };

/** The URL without user information and query (or a placeholder when it does not parse). */
export function anonymizeDrainUrl(raw: string): string {
  try {
    const url = new URL(raw);
    url.username = '';
    url.password = '';
    url.search = '';
    url.hash = '';
    return url.toString();
  } catch {
    return '(an unparseable URL)';
  }
}

export function parseDrainUrl(raw: string): ParsedDrain {
  const anonymized = anonymizeDrainUrl(raw);
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, reason: 'Cannot parse syslog drain URL.', anonymized };
  }
  const scheme = url.protocol.replace(/:$/, '') as DrainScheme;
  if (!DRAIN_SCHEMES.includes(scheme)) {
    return { ok: false, reason: `Invalid Scheme ${scheme} for syslog drain url ${anonymized} (devbox drains to ${DRAIN_SCHEMES.map((s) => `${s}://`).join(', ')})`, anonymized };
  }
  // WHATWG URLs keep the host of unknown schemes (syslog://) as it was written: lower-case it here.
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === '') return { ok: false, reason: `No hostname found in syslog drain url ${anonymized}`, anonymized };
  const port = url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return { ok: false, reason: `Invalid port in syslog drain url ${anonymized}`, anonymized };
  const param = (name: string) => url.searchParams.get(name);
  const metadata = param('disable-metadata') ?? param('omit-metadata');
  const drainType = param('drain-type');
  const drainData = param('drain-data');
  let logs = drainType !== 'metrics';
  if (drainData !== null && drainData !== '') logs = drainData === 'logs' || drainData === 'all';
  if (param('include-metrics-deprecated')) logs = true;
  const http = scheme === 'https' || scheme === 'http';
  let authorization: string | undefined;
  if (http && (url.username !== '' || url.password !== '')) {
    authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  }
  return {
    ok: true,
    target: {
      raw,
      scheme,
      host,
      port,
      path: `${url.pathname || '/'}${url.search}`,
      authorization,
      anonymized,
      omitMetadata: metadata === 'true',
      logs,
    },
  };
}
