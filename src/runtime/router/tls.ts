// The router's certificates (docs/router.md, "TLS"): a CA made once per state directory (the
// certificate a user trusts), and the router's server certificate for `*.<domain>`, the platform's
// names, `localhost` and 127.0.0.1, signed by it. The server certificate is made again when the
// domain changes, when it nears its end, or when it no longer matches the CA or its key. Names the
// server certificate cannot cover for strict clients (OpenSSL, Node and browsers refuse `*.localhost`:
// a wildcard needs two labels after it) get a certificate of their own at the TLS handshake
// (HostCertificates), signed by the same CA.
//
// Node 20 parses X.509 (crypto.X509Certificate) but cannot build it: certificates are built with
// @peculiar/x509 over WebCrypto, loaded only when one has to be made. Keys are ECDSA P-256 (made in
// a millisecond; every TLS client in use takes them).
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import tls from 'node:tls';
import { ADDRESS_HOSTS, RESERVED_HOSTNAMES, tlsFiles, type StatePaths } from '../common/config.js';
import type { Logger } from '../common/log.js';

type X509Module = typeof import('@peculiar/x509');
type CryptoKey = webcrypto.CryptoKey;

const DAY_MS = 24 * 3600 * 1000;
/** The CA lives as long as the state directory; ten years is "as long". */
export const CA_VALIDITY_DAYS = 3650;
/** The longest validity clients accept for a server certificate (Apple: 398 days). */
export const SERVER_VALIDITY_DAYS = 397;
/** A server certificate with less left than this is made again at the router's start. */
export const RENEW_BEFORE_DAYS = 30;
/** Certificates start an hour back, for clocks a little behind. */
const BACKDATE_MS = 3600 * 1000;
const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

let x509Loading: Promise<X509Module> | undefined;
/** @peculiar/x509 (it needs a Reflect metadata polyfill, loaded first), with Node's WebCrypto. */
function loadX509(): Promise<X509Module> {
  x509Loading ??= (async () => {
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    x509.cryptoProvider.set(webcrypto as never);
    return x509;
  })();
  return x509Loading;
}

/** What the server certificate names: DNS names and IP addresses. */
export interface ServerNames {
  dns: string[];
  ips: string[];
}

/**
 * The server certificate's names: `*.<domain>` and the bare domain, each platform name under the
 * domain spelled out (a strict client takes no `*.localhost`), and the cf address (`localhost`,
 * 127.0.0.1, ::1), where the router also answers.
 */
export function serverNames(domain: string): ServerNames {
  const d = domain.toLowerCase();
  const dns = [`*.${d}`, d, ...RESERVED_HOSTNAMES.map((h) => `${h}.${d}`), ...ADDRESS_HOSTS.filter((h) => !/^[\d.]+$/.test(h))];
  return { dns: [...new Set(dns)], ips: ['127.0.0.1', '::1'] };
}

/** The subjectAltName of a certificate as a sorted list (`DNS:a`, `IP Address:b`), for comparing. */
export function altNames(cert: X509Certificate): string[] {
  return (cert.subjectAltName ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .sort();
}

function expectedAltNames(names: ServerNames): string[] {
  return [...names.dns.map((n) => `DNS:${n}`), ...names.ips.map((ip) => `IP Address:${ip === '::1' ? '0:0:0:0:0:0:0:1' : ip}`)].sort();
}

/** A positive serial number of 16 random bytes, as hex. */
const serialNumber = () => {
  const bytes = randomBytes(16);
  bytes[0] &= 0x7f;
  bytes[0] |= 0x01;
  return bytes.toString('hex');
};

/** Writes a file atomically with `mode` (write to a temporary file, then rename). */
function writeFileAtomic(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text, { mode });
  fs.chmodSync(tmp, mode);
  fs.renameSync(tmp, file);
}

function readOrUndefined(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

async function cryptoKeys(privateKey: KeyObject): Promise<{ privateKey: CryptoKey; publicKey: CryptoKey }> {
  const subtle = webcrypto.subtle;
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  return {
    privateKey: await subtle.importKey('pkcs8', pkcs8, EC, true, ['sign']),
    publicKey: await subtle.importKey('spki', spki, EC, true, ['verify']),
  };
}

const newKey = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
const pemOf = (key: KeyObject) => key.export({ type: 'pkcs8', format: 'pem' }).toString();

/** Makes the CA: a self-signed certificate that may sign server certificates (and nothing below them). */
async function makeCa(now: number): Promise<{ cert: string; key: string }> {
  const x509 = await loadX509();
  const key = newKey();
  const keys = await cryptoKeys(key);
  // Named after the machine and a random id, so that a user who trusts several boxes can tell them apart.
  const id = randomBytes(4).toString('hex');
  const host = os.hostname().replace(/[^A-Za-z0-9.-]/g, '') || 'localhost';
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: [{ CN: [`devbox CA ${host} ${id}`] }, { O: ['devbox'] }],
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + CA_VALIDITY_DAYS * DAY_MS),
    signingAlgorithm: SIGNING,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert: cert.toString('pem'), key: pemOf(key) };
}

/** A server certificate for `names`, for the key `serverKey`, signed by the CA. */
export async function makeServerCert(ca: { cert: string; key: string }, serverKey: KeyObject, names: ServerNames, now: number, commonName = names.dns[0]): Promise<string> {
  const x509 = await loadX509();
  const caCert = new x509.X509Certificate(ca.cert);
  const caKeys = await cryptoKeys(createPrivateKey(ca.key));
  const serverKeys = await cryptoKeys(serverKey);
  const caEnd = caCert.notAfter.getTime();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: [{ CN: [commonName] }, { O: ['devbox'] }],
    issuer: caCert.subject,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(Math.min(caEnd, now + SERVER_VALIDITY_DAYS * DAY_MS)),
    signingAlgorithm: SIGNING,
    publicKey: serverKeys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([...names.dns.map((value) => ({ type: 'dns' as const, value })), ...names.ips.map((value) => ({ type: 'ip' as const, value }))]),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      await x509.SubjectKeyIdentifierExtension.create(serverKeys.publicKey),
    ],
  });
  return cert.toString('pem');
}

/** Why the CA on disk cannot be used (undefined: it can). */
function caProblem(certPem: string | undefined, keyPem: string | undefined, now: number): string | undefined {
  if (certPem === undefined || keyPem === undefined) return 'missing';
  try {
    const cert = new X509Certificate(certPem);
    if (!cert.ca) return 'not a CA certificate';
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'its key does not match';
    if (Date.parse(cert.validTo) <= now) return 'expired';
    return undefined;
  } catch (error) {
    return `unreadable (${(error as Error).message})`;
  }
}

/** Why the server certificate must be made again (undefined: it is good). */
function serverProblem(certPem: string | undefined, keyPem: string | undefined, caPem: string, names: ServerNames, now: number): string | undefined {
  if (certPem === undefined || keyPem === undefined) return 'missing';
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'not signed by the CA';
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) return 'its key does not match';
    if (altNames(cert).join(',') !== expectedAltNames(names).join(',')) return 'its names are not the domain’s';
    if (Date.parse(cert.validTo) - now < RENEW_BEFORE_DAYS * DAY_MS) return 'it expires soon';
    if (Date.parse(cert.validFrom) > now) return 'not valid yet';
    return undefined;
  } catch (error) {
    return `unreadable (${(error as Error).message})`;
  }
}

export interface EnsureResult {
  /** The CA was made now (there was none, or it could not be used). */
  caCreated: boolean;
  /** The server certificate was made now, and why. */
  serverCreated: boolean;
  reason?: string;
}

/**
 * Makes what is missing or out of date in the state directory's `tls/` (mode 0700): the CA once, the
 * server certificate when needed. Every file is 0600, certificates too: nothing in the state
 * directory is the group's or others' (docs/security.md); the user reads the CA to trust it.
 */
export async function ensureCertificates(paths: Pick<StatePaths, 'tls'>, domain: string, { now = Date.now(), log }: { now?: number; log?: Logger } = {}): Promise<EnsureResult> {
  const files = tlsFiles(paths);
  fs.mkdirSync(files.dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(files.dir, 0o700);
  let caCert = readOrUndefined(files.caCert);
  let caKey = readOrUndefined(files.caKey);
  const caIssue = caProblem(caCert, caKey, now);
  let caCreated = false;
  if (caIssue !== undefined) {
    if (caIssue !== 'missing') log?.warn('the box CA cannot be used; making a new one (trust the new ca.pem)', { reason: caIssue, ca: files.caCert });
    const ca = await makeCa(now);
    writeFileAtomic(files.caKey, ca.key, 0o600);
    writeFileAtomic(files.caCert, ca.cert, 0o600);
    caCert = ca.cert;
    caKey = ca.key;
    caCreated = true;
    log?.info('made the box CA', { ca: files.caCert });
  }
  const names = serverNames(domain);
  const reason = caCreated ? 'new CA' : serverProblem(readOrUndefined(files.cert), readOrUndefined(files.key), caCert!, names, now);
  if (reason === undefined) {
    // Keys stay owner-only even if someone loosened them.
    for (const key of [files.caKey, files.key]) if ((fs.statSync(key).mode & 0o777) !== 0o600) fs.chmodSync(key, 0o600);
    return { caCreated, serverCreated: false };
  }
  const key = newKey();
  const cert = await makeServerCert({ cert: caCert!, key: caKey! }, key, names, now);
  writeFileAtomic(files.key, pemOf(key), 0o600);
  writeFileAtomic(files.cert, cert, 0o600);
  log?.info('made the router certificate', { reason, names: names.dns.length + names.ips.length, cert: files.cert });
  return { caCreated, serverCreated: true, reason };
}

/** The PEMs the router serves with (read once at start). */
export interface TlsMaterial {
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

export function readTlsMaterial(paths: Pick<StatePaths, 'tls'>): TlsMaterial {
  const files = tlsFiles(paths);
  return { caCert: fs.readFileSync(files.caCert, 'utf8'), caKey: fs.readFileSync(files.caKey, 'utf8'), cert: fs.readFileSync(files.cert, 'utf8'), key: fs.readFileSync(files.key, 'utf8') };
}

/** A DNS name a certificate can be made for: letters, digits, hyphens, dots; no IP address. */
const DNS_NAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const IPV4 = /^\d+\.\d+\.\d+\.\d+$/;

export interface HostCertificatesOptions {
  domain: string;
  /** Whether the router has a route for this host (a name outside the domain gets a certificate only then). */
  routed(host: string): boolean;
  log?: Logger;
  /** Certificates kept per process (default 512); the oldest goes first. */
  maxCached?: number;
}

/**
 * The certificate chosen at each TLS handshake (SNI): the server certificate when it covers the name
 * for a strict client (OpenSSL's rules, X509Certificate.checkHost: `*.localhost` covers nothing),
 * else a certificate made for that name alone, with the server key, signed by the CA. Names are
 * made only under the box's domain or for hosts the router has routes for, and kept per process.
 */
export class HostCertificates {
  readonly defaultContext: tls.SecureContext;
  private readonly server: X509Certificate;
  private readonly serverKey: KeyObject;
  private readonly contexts = new Map<string, Promise<tls.SecureContext>>();
  private readonly maxCached: number;
  /** Certificates made for single names in this process (for /varz and tests). */
  made = 0;

  constructor(
    private readonly material: TlsMaterial,
    private readonly options: HostCertificatesOptions,
  ) {
    this.defaultContext = tls.createSecureContext({ cert: material.cert, key: material.key });
    this.server = new X509Certificate(material.cert);
    this.serverKey = createPrivateKey(material.key);
    this.maxCached = options.maxCached ?? 512;
  }

  /** tls.Server's SNICallback. */
  readonly SNICallback = (servername: string, callback: (error: Error | null, context?: tls.SecureContext) => void): void => {
    const name = servername.toLowerCase().replace(/\.$/, '');
    if (!this.needsOwn(name)) return callback(null, this.defaultContext);
    this.contextFor(name).then(
      (context) => callback(null, context),
      (error: Error) => {
        this.options.log?.warn('could not make a certificate for a host; serving the default one', { host: name, error: error.message });
        this.contexts.delete(name);
        callback(null, this.defaultContext);
      },
    );
  };

  /** Whether `name` (lower case) gets a certificate of its own. */
  needsOwn(name: string): boolean {
    if (!DNS_NAME.test(name) || IPV4.test(name)) return false;
    if (this.server.checkHost(name) !== undefined) return false;
    const domain = this.options.domain.toLowerCase();
    return name.endsWith(`.${domain}`) || this.options.routed(name);
  }

  contextFor(name: string): Promise<tls.SecureContext> {
    let context = this.contexts.get(name);
    if (context) {
      // Most recently used last: the first key is the one to drop.
      this.contexts.delete(name);
      this.contexts.set(name, context);
      return context;
    }
    context = makeServerCert({ cert: this.material.caCert, key: this.material.caKey }, this.serverKey, { dns: [name], ips: [] }, Date.now()).then((cert) => {
      this.made++;
      return tls.createSecureContext({ cert, key: this.material.key });
    });
    this.contexts.set(name, context);
    while (this.contexts.size > this.maxCached) this.contexts.delete(this.contexts.keys().next().value!);
    return context;
  }
}
