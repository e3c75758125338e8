// A few lines of RESP, Redis's protocol (RESP2): enough for the node to ask a redis-server it started
// whether it serves (AUTH, PING), and for the tests to use a binding's credentials. Not a client
// library: one connection per call, commands pipelined, replies in order, bounded by a timeout.
import net from 'node:net';

export class RespError extends Error {}

/** A reply: a status or bulk string, an integer, nil, an array, or the server's error (not thrown). */
export type RespReply = string | number | null | RespError | RespReply[];

export function encodeCommand(args: readonly string[]): Buffer {
  const parts = [`*${args.length}\r\n`];
  for (const arg of args) parts.push(`$${Buffer.byteLength(arg)}\r\n${arg}\r\n`);
  return Buffer.from(parts.join(''));
}

/** The reply starting at `offset` and where it ends, or undefined when more bytes are needed. */
export function parseReply(buf: Buffer, offset = 0): { reply: RespReply; end: number } | undefined {
  const eol = buf.indexOf('\r\n', offset);
  if (eol < 0) return undefined;
  const line = buf.toString('utf8', offset + 1, eol);
  const next = eol + 2;
  switch (buf[offset]) {
    case 0x2b: // +
      return { reply: line, end: next };
    case 0x2d: // -
      return { reply: new RespError(line), end: next };
    case 0x3a: // :
      return { reply: Number(line), end: next };
    case 0x24: {
      // $
      const length = Number(line);
      if (length < 0) return { reply: null, end: next };
      if (buf.length < next + length + 2) return undefined;
      return { reply: buf.toString('utf8', next, next + length), end: next + length + 2 };
    }
    case 0x2a: {
      // *
      const count = Number(line);
      if (count < 0) return { reply: null, end: next };
      const items: RespReply[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parseReply(buf, end);
        if (!item) return undefined;
        items.push(item.reply);
        end = item.end;
      }
      return { reply: items, end };
    }
    default:
      throw new Error(`not a RESP reply (first byte ${buf[offset]})`);
  }
}

/** Sends `commands` on one connection and resolves to their replies, in order; fails after `timeoutMs`. */
export function redisCommands({ host, port, timeoutMs = 2_000 }: { host: string; port: number; timeoutMs?: number }, commands: readonly string[][]): Promise<RespReply[]> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let buffer = Buffer.alloc(0);
    const replies: RespReply[] = [];
    const done = (error?: Error) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    socket.setTimeout(timeoutMs, () => done(new Error(`redis-server at ${host}:${port} did not answer within ${timeoutMs} ms`)));
    socket.once('error', (error) => done(error));
    socket.once('close', () => done(new Error(`redis-server at ${host}:${port} closed the connection after ${replies.length} of ${commands.length} replies`)));
    socket.once('connect', () => socket.write(Buffer.concat(commands.map(encodeCommand))));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      try {
        for (let parsed = parseReply(buffer); parsed; parsed = buffer.length ? parseReply(buffer) : undefined) {
          replies.push(parsed.reply);
          buffer = buffer.subarray(parsed.end);
        }
      } catch (error) {
        return done(error as Error);
      }
      if (replies.length >= commands.length) done();
    });
  });
}
