// Drain servers of the tests' own, as a log management service would run them: a syslog server over
// TCP or TLS that reads RFC 6587 octet-counted frames, and an HTTP(S) server that takes POSTs, each
// keeping what arrived (and how it was framed), on a loopback port from the OS. Certificates come
// from a CA made for the run (the router's own certificate code, in a temporary directory).
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { ensureCertificates, readTlsMaterial } from '../../../src/runtime/router/tls.js';
import { OctetCountingReader } from '../../../src/runtime/logs/rfc5424.js';

export interface TestCerts {
  dir: string;
  /** The CA's certificate (PEM), and its file. */
  ca: string;
  caFile: string;
  /** A server certificate for localhost, *.localhost, 127.0.0.1 and ::1, and its key. */
  cert: string;
  key: string;
  remove(): void;
}

export async function testCerts(): Promise<TestCerts> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'devbox-drain-certs-'));
  await ensureCertificates({ tls: dir }, 'localhost');
  const m = readTlsMaterial({ tls: dir });
  return { dir, ca: m.caCert, caFile: path.join(dir, 'ca.pem'), cert: m.cert, key: m.key, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** A syslog server (TCP, or TLS with `tlsOptions`): every frame's message, in arrival order. */
export class SyslogServer {
  readonly messages: string[] = [];
  /** Bytes that were not a well-formed octet-counted stream (a framing error ends that connection). */
  readonly framingErrors: string[] = [];
  connections = 0;
  private readonly sockets = new Set<net.Socket>();
  private readonly server: net.Server;
  /** While true, new connections are not read from (a stuck receiver). */
  stuck = false;

  constructor(tlsOptions?: tls.TlsOptions) {
    const onSocket = (socket: net.Socket) => {
      this.connections++;
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.on('error', () => undefined);
      if (this.stuck) {
        socket.pause();
        return;
      }
      const reader = new OctetCountingReader();
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const m of reader.push(chunk)) this.messages.push(m.toString('utf8'));
        } catch (error) {
          this.framingErrors.push((error as Error).message);
          socket.destroy();
        }
      });
    };
    this.server = tlsOptions ? tls.createServer(tlsOptions, onSocket) : net.createServer(onSocket);
  }

  async listen(port = 0): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Ends every connection (the drain must reconnect). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
  }

  async close(): Promise<void> {
    this.dropConnections();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

export interface Post {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** An HTTP(S) drain: every POST kept; `status` decides the answer (a function of the body, or a number). */
export class HttpDrainServer {
  readonly posts: Post[] = [];
  status: number | ((body: string) => number) = 200;
  private readonly server: http.Server;

  constructor(tlsOptions?: https.ServerOptions) {
    const handle = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.posts.push({ path: req.url ?? '', headers: req.headers, body });
        const status = typeof this.status === 'function' ? this.status(body) : this.status;
        res.writeHead(status, { 'content-type': 'text/plain' });
        res.end(status < 300 ? 'ok' : 'no');
      });
    };
    this.server = tlsOptions ? https.createServer(tlsOptions, handle) : http.createServer(handle);
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    return (this.server.address() as AddressInfo).port;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
