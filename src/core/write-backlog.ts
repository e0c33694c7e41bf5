/**
 * The bytes handed to a stream that its reader has not taken yet. A pipe's writes wait in the process when its reader
 * is slower (Bun reports none of it: writableLength stays 0); each write's callback runs once it is out, in the order
 * written, so the waiting bytes are counted here: `add` before the write, `written` as its callback.
 * @module
 */
export class WriteBacklog {
  /** Bytes written whose callback has not run. */
  bytes = 0;
  private readonly lengths: number[] = [];
  private head = 0;

  add(bytes: number): void {
    this.bytes += bytes;
    this.lengths.push(bytes);
  }

  /** A write's callback (also for a write that threw: it will not call back). */
  readonly written = (): void => {
    this.bytes -= this.lengths[this.head++] ?? 0;
    if (this.head === this.lengths.length) this.lengths.length = this.head = 0;
    else if (this.head >= 4096) this.lengths.splice(0, this.head), (this.head = 0);
  };
}
