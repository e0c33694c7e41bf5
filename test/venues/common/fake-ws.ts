/**
 * A WebSocket a test drives (stubbed in as the global WebSocket): what is sent, its handlers, open and close by hand.
 * Every socket made is kept in `made` (a test clears it) so the one a planned reconnect opens can be driven too.
 */
export class FakeWs {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSED = 3;
  static made: FakeWs[] = [];
  readonly sent: string[] = [];
  readyState = FakeWs.OPEN;
  closedWith: number | undefined = undefined;
  onopen: (() => void) | null = null;
  onmessage: ((ev: { data: string }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    FakeWs.made.push(this);
  }
  send(text: string): void {
    this.sent.push(text);
  }
  close(code = 1000): void {
    this.closedWith = code;
    this.readyState = FakeWs.CLOSED;
  }
}
