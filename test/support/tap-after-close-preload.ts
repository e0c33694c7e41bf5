/**
 * Preloaded into a `feeder record` child (bun --preload): Feeder.stop() is held for good (its stop cut at the
 * deadline, a venue left delivering), and the moment the capture is closed the feeder's raw frame tap hears one more
 * frame, as such a venue's next one. Then `test: lateRecords N` on stderr: what of it reached the closed writer.
 */
import { Feeder } from "../../src/app/feeder.ts";
import { CaptureWriter } from "../../src/record/capture.ts";

type FrameTap = (venue: string, market: string, connection: string, frame: string, tsRecvUs: number) => void;
let tap: FrameTap | undefined;

Feeder.prototype.stop = async function (this: Feeder): Promise<void> {
  tap = (this as unknown as { opts: { onRawFrame?: FrameTap } }).opts.onRawFrame;
  await new Promise<void>(() => undefined);
};

const realClose = CaptureWriter.prototype.close;
CaptureWriter.prototype.close = function (this: CaptureWriter): void {
  realClose.call(this);
  tap?.("bybit", "linear", "c1", '{"topic":"orderbook.50.XRPUSDT","type":"delta"}', Date.now() * 1000);
  process.stderr.write(`test: lateRecords ${this.lateRecords}\n`);
};
