// A small HTTP/1.1 load generator for when wrk is not installed: N keep-alive connections, each
// sending GET requests back to back for a fixed time; prints one JSON line with requests/s and
// latency percentiles. Handles responses framed by Content-Length (what the benchmark backend sends).
//   node --import tsx bench/router-load.ts PORT HOST CONNECTIONS SECONDS
import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50_ms: number;
  p99_ms: number;
}

export async function runLoad(port: number, host: string, connections: number, seconds: number): Promise<LoadResult> {
  const request = Buffer.from(`GET / HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: devbox-bench\r\n\r\n`);
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  const one = () =>
    new Promise<void>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
      let buf: Buffer | null = null;
      let sentAt = 0;
      const send = () => {
        if (performance.now() >= deadline) {
          socket.destroy();
          return resolve();
        }
        sentAt = performance.now();
        socket.write(request);
      };
      socket.on('connect', send);
      socket.on('data', (chunk: Buffer) => {
        buf = buf ? Buffer.concat([buf, chunk]) : chunk;
        for (;;) {
          const end: number = buf.indexOf('\r\n\r\n');
          if (end === -1) return;
          const head = buf.toString('latin1', 0, end);
          const m = /\r\ncontent-length: *(\d+)/i.exec(head);
          const total: number = end + 4 + (m ? Number(m[1]) : 0);
          if (buf.length < total) return;
          if (!head.startsWith('HTTP/1.1 200')) errors++;
          latencies.push(performance.now() - sentAt);
          buf = buf.length === total ? null : buf.subarray(total);
          if (buf === null) return send();
        }
      });
      socket.on('error', () => {
        errors++;
        resolve();
      });
      socket.on('close', () => resolve());
    });
  await Promise.all(Array.from({ length: connections }, one));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  return { requests: latencies.length, errors, rps: latencies.length / elapsed, p50_ms: at(0.5), p99_ms: at(0.99) };
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const [port, host, connections, seconds] = process.argv.slice(2);
  const result = await runLoad(Number(port), host, Number(connections), Number(seconds));
  console.log(JSON.stringify(result));
}
