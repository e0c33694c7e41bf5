/** A raw WebSocket client for simulator tests: queues every text frame; bounded waits, no sleeps. */
export class RawClient {
  readonly frames: string[] = [];
  private ws!: WebSocket;
  private read = 0;
  private waiters: (() => void)[] = [];
  closed = false;

  static async open(url: string): Promise<RawClient> {
    const c = new RawClient();
    c.ws = new WebSocket(url);
    c.ws.onmessage = (ev) => {
      c.frames.push(String(ev.data));
      c.wake();
    };
    c.ws.onclose = () => {
      c.closed = true;
      c.wake();
    };
    await new Promise<void>((res, rej) => {
      c.ws.onopen = () => res();
      c.ws.onerror = () => rej(new Error("ws error"));
    });
    return c;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private async waitChange(deadline: number): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) throw new Error("timed out");
    await new Promise<void>((res) => {
      const t = setTimeout(res, left);
      this.waiters.push(() => {
        clearTimeout(t);
        res();
      });
    });
  }

  send(obj: unknown): void {
    this.ws.send(typeof obj === "string" ? obj : JSON.stringify(obj));
  }

  close(): void {
    this.ws.close();
  }

  /** The next frame (raw text). */
  async next(timeoutMs = 8000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.frames.length) {
      if (this.closed) throw new Error("closed");
      await this.waitChange(deadline);
    }
    return this.frames[this.read++]!;
  }

  async nextJson(): Promise<any> {
    return JSON.parse(await this.next());
  }

  /** Subscribes and returns the snapshot that follows the ack. */
  async subscribe(topic: string): Promise<any> {
    this.send({ op: "subscribe", args: [topic] });
    const ack = await this.nextJson();
    if (ack.success !== true) throw new Error(`subscribe ${topic} failed: ${JSON.stringify(ack)}`);
    return this.nextJson();
  }

  /** Frames received and not yet read. */
  get pending(): number {
    return this.frames.length - this.read;
  }

  async waitClosed(timeoutMs = 8000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) await this.waitChange(deadline);
  }
}
