// Splits a byte stream into lines (UTF-8 safe across chunks); a line longer than maxLength is cut
// into pieces so that one endless line cannot grow the DEA's memory.
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

export const MAX_LINE_LENGTH = 64 * 1024;

export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLength = MAX_LINE_LENGTH,
  ) {}

  push(chunk: Buffer | string): void {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let start = 0;
    for (;;) {
      const nl = this.pending.indexOf('\n', start);
      if (nl === -1) break;
      this.emit(this.pending.slice(start, nl));
      start = nl + 1;
    }
    this.pending = this.pending.slice(start);
    while (this.pending.length > this.maxLength) {
      this.onLine(this.pending.slice(0, this.maxLength));
      this.pending = this.pending.slice(this.maxLength);
    }
  }

  end(): void {
    this.pending += this.decoder.end();
    if (this.pending !== '') this.emit(this.pending);
    this.pending = '';
  }

  private emit(line: string): void {
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    for (let i = 0; i < text.length || i === 0; i += this.maxLength) {
      this.onLine(text.slice(i, i + this.maxLength));
      if (text.length <= this.maxLength) break;
    }
  }
}

/** Calls onLine for every line of the stream; resolves when it ends. */
export function forEachLine(stream: Readable, onLine: (line: string) => void): Promise<void> {
  const splitter = new LineSplitter(onLine);
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      splitter.end();
      resolve();
    };
    stream.on('data', (chunk: Buffer) => splitter.push(chunk));
    stream.on('end', finish);
    stream.on('error', finish);
    stream.on('close', finish);
  });
}
