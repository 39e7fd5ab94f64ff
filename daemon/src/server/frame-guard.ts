// A size bound on the daemon's socket input. vscode-jsonrpc's reader buffers a whole message
// whatever its Content-Length says, so one client could make the daemon hold gigabytes. This
// pass-through stream follows the same framing (headers up to a blank line, then Content-Length
// bytes) and fails the stream as soon as a header announces more than the limit, or headers
// run on without end, before any of that body is buffered.
import { Transform, type TransformCallback } from "node:stream";

/** Longest header block accepted (LSP sends two short headers). */
const MAX_HEADER_BYTES = 8 * 1024;

export class FrameGuard extends Transform {
  private header = "";
  /** Body bytes still to pass before the next header block. */
  private body = 0;

  constructor(private readonly maxMessageBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.body > 0) {
        const take = Math.min(this.body, chunk.length - at);
        this.body -= take;
        at += take;
        continue;
      }
      // In a header block: find its end in this chunk.
      const rest = chunk.toString("latin1", at, Math.min(chunk.length, at + MAX_HEADER_BYTES + 4));
      const text = this.header + rest;
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) {
        if (text.length > MAX_HEADER_BYTES) return done(new Error(`a message header is over ${MAX_HEADER_BYTES} bytes`));
        this.header = text;
        at = chunk.length;
        continue;
      }
      const m = /(?:^|\r\n)content-length:\s*(\d+)/i.exec(text.slice(0, end));
      if (!m) return done(new Error("a message has no Content-Length header"));
      const length = Number(m[1]);
      if (length > this.maxMessageBytes) return done(new Error(`a message of ${length} bytes is over the limit of ${this.maxMessageBytes}`));
      at += end + 4 - this.header.length;
      this.header = "";
      this.body = length;
    }
    done(null, chunk);
  }
}
