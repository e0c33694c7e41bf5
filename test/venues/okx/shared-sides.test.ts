/**
 * The connection's one update shares its side arrays with the WebAssembly module (OkxScanner.shareSides): its levels
 * are valid only until the scanner's next scan. Driven for real through the adapter and the simulator on
 * 127.0.0.1: books without a WebSocket snapshot (the REST bridge buffers one book's updates while its snapshot is
 * refused and fetched again, then scans them again into the same update) next to a book of the same connection that
 * is live, with update frames of 1 to 150 level changes (each longer frame than any before moves the module's
 * arrays) and a frame long enough to grow the module's memory between two buffered ones: every book must end equal
 * to the simulator's, level for level, with the module having read the data objects. A buffered update that took the
 * JSON path on arrival is read again the same way when its book is bridged (not skipped, which broke the bridge).
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { silentLogger } from "../../../src/core/log.ts";
import type { Instrument } from "../../../src/core/types.ts";
import { startOkxSimulator } from "../../../src/sim/okx-sim.ts";
import { WasmLevels } from "../../../src/venues/common/levels-wasm.ts";
import { OkxAdapter } from "../../../src/venues/okx/index.ts";
import type { OkxConnection } from "../../../src/venues/okx/connection.ts";
import type { Subscription } from "../../../src/venues/venue.ts";
import { okxConfig, sameAsSim, MapSink as Sink, until as waitUntil } from "./helpers.ts";

const until = (cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> => waitUntil(cond, what, timeoutMs);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length > 0) await cleanups.pop()!();
});

describe("okx: the update sharing the module's arrays, through the REST bridge", { timeout: 30_000 }, () => {
  test("buffered updates scanned again after frames that move and grow the module's arrays: every book equal", async () => {
    const objects = { read: 0, declined: 0 };
    const real = WasmLevels.prototype.readOkxData;
    vi.spyOn(WasmLevels.prototype, "readOkxData").mockImplementation(function (this: WasmLevels, ...args: Parameters<WasmLevels["readOkxData"]>) {
      const r = real.apply(this, args);
      if (r >= 0) objects.read++;
      else objects.declined++;
      return r;
    });
    const subs: Subscription[] = [
      { market: "spot", symbol: "BTC-USDT", depth: 400 },
      { market: "spot", symbol: "ETH-USDT", depth: 400 },
    ];
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: subs.map((s) => s.symbol) }], seed: 11, checksums: true, initialSnapshot: false, burstiness: 1 });
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
    const equal = (i: number) => sameAsSim(sim, subs[i]!, sink, i);
    // BTC's snapshot requests are refused (again after each refusal while `refusing`): its updates stay buffered.
    let refusing = true;
    const rearm = () => {
      if (refusing && sim.restFaultsPending() === 0) sim.restFault("refuse", "BTC-USDT");
    };
    rearm();
    adapter.start(sink);
    const wait = (cond: () => boolean, what: string) => until(() => (rearm(), cond()), what);
    await wait(() => adapter.stats().connections === 1 && sim.stats.subscribes > 0, "subscribed");
    sim.step(1);
    await wait(() => equal(1), "ETH bridged and live");
    for (let i = 0; i < 10; i++) sim.step(1);
    await wait(() => equal(1), "ETH equal after bursts");
    // A frame longer than any before (a control frame OKX may send, unhandled: only logged) grows the module's memory
    // between two of BTC's buffered updates, detaching every view of the old memory.
    const conn = (adapter as unknown as { conns: { scanner: { wasm: { memory: WebAssembly.Memory } } }[] }).conns[0]!;
    const before = conn.scanner.wasm.memory.buffer.byteLength;
    const long = `{"event":"channel-conn-count","channel":"books","connCount":"2","connId":"${"a".repeat(200_000)}"}`;
    expect(adapter.ingestFrame("spot", "", long, 0)).toBe(true);
    expect(conn.scanner.wasm.memory.buffer.byteLength).toBeGreaterThan(before);
    for (let i = 0; i < 10; i++) sim.step(1);
    await wait(() => equal(1), "ETH equal after the memory grew");
    expect(sink.bids[0]).toBeUndefined(); // BTC still bridging: its buffer spans the growth
    refusing = false;
    await until(() => equal(0) && equal(1), "BTC bridged after the refusals, both books equal", 20_000);
    for (let i = 0; i < 10; i++) sim.step(1);
    await until(() => equal(0) && equal(1), "both books equal after more bursts");
    expect(sink.invalid).toEqual([]);
    expect(objects.read).toBeGreaterThan(20);
    expect(objects.declined).toBe(0);
  });

  test("a buffered update that took the JSON path on arrival is applied when its book is bridged (no second snapshot)", async () => {
    const subs: Subscription[] = [
      { market: "spot", symbol: "BTC-USDT", depth: 400 },
      { market: "spot", symbol: "ETH-USDT", depth: 400 },
    ];
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: subs.map((s) => s.symbol) }], seed: 5, initialSnapshot: false });
    const adapter = new OkxAdapter(okxConfig(sim, subs), subs, { log: silentLogger, reconnectBaseMs: 5, reconnectMaxMs: 20 });
    cleanups.push(async () => {
      await adapter.stop();
      await sim.stop();
    });
    const sink = new Sink((await adapter.loadInstruments()) as Instrument[]);
    const equal = (i: number) => sameAsSim(sim, subs[i]!, sink, i);
    const inner = adapter as unknown as { conns: OkxConnection[]; bridge: { noBridge: number; bridged: number; fetched: number } };
    // BTC's first snapshot request is refused; its next answer is the book as it is once the refusal was served
    // (frozen), so that the updates sent after that are buffered and all kept by the bridge.
    sim.restFault("refuse", "BTC-USDT");
    adapter.start(sink);
    await until(() => adapter.stats().connections === 1 && sim.stats.subscribes > 0, "subscribed");
    const conn = inner.conns[0]!;
    // The next BTC update arrives with a space after a colon: the scanner declines it, the JSON path reads it.
    let mangle = false;
    let mangledWhileBridging = false;
    const onFrameAt = conn.onFrameAt.bind(conn);
    conn.onFrameAt = (data: string, recvUs: number) => {
      if (mangle && data.includes('"instId":"BTC-USDT"},"action":"update"')) {
        mangle = false;
        mangledWhileBridging = sink.bids[0] === undefined;
        data = data.replace('"action":"update"', '"action": "update"');
      }
      onFrameAt(data, recvUs);
    };
    sim.step(1);
    await until(() => sim.restFaultsPending() === 0 && equal(1), "BTC's request refused, ETH live");
    sim.restFault("no_bridge", "BTC-USDT");
    mangle = true;
    sim.step(3);
    await until(() => equal(0) && equal(1), "both books equal");
    expect(mangledWhileBridging).toBe(true);
    expect(conn.fallbacks).toBe(1);
    // Read again through the JSON path, the buffered update bridges to the frozen snapshot: no second one is needed.
    expect(inner.bridge.noBridge).toBe(0);
    expect(inner.bridge.bridged).toBe(2);
    expect(sink.invalid).toEqual([]);
    // The buffered updates keep their receive times (the wire's local timestamp, the publisher's latency).
    expect(sink.noRecvTime).toBe(0);
  });
});
