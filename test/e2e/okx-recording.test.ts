/**
 * The genuine OKX recording through `feeder replay` (the CLI command, in process): the cryptofeed file is converted
 * to a capture (.fcap: each frame with its receive time, on the connection of its instrument's market), the config
 * gives tick and lot sizes as overrides (the recording has none), and the replay publishes over real multicast on
 * 127.0.0.1 to the subscriber library. The subscriber's book after each of the 290 `books` messages (identified by
 * the message's ts) must equal an independent reference built from the file, and no book may be invalid.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { parseFixed } from "../../src/core/fixed.ts";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { FeedSubscriber } from "../../src/subscriber/index.ts";
import { OKX_RECORDING_INSTRUMENTS, okxRecordingFrames } from "../venues/okx/recording.ts";
import { levelsOfView, sameLevels, tempDir, toToml, uniqueDestination, waitFor, type Levels } from "./harness.ts";

const INST = OKX_RECORDING_INSTRUMENTS;
let subscriber: FeedSubscriber;
const dest = uniqueDestination(43);
/** Per instrument id and message ts (µs): the last valid book the subscriber showed. */
const seen = new Map<string, Levels>();
let invalidSeen = 0;

/** The reference: per instrument and message ts, the book after that message (exact mantissas). */
function reference(): Map<string, Levels> {
  const out = new Map<string, Levels>();
  const books = new Map<string, { bids: Map<string, string>; asks: Map<string, string> }>();
  for (const rec of okxRecordingFrames().books) {
    const msg = JSON.parse(rec.frame) as { action: string; data: { bids: string[][]; asks: string[][]; ts: string }[] };
    const inst = INST.find((i) => i.symbol === rec.instId)!;
    let b = books.get(rec.instId);
    if (!b || msg.action === "snapshot") books.set(rec.instId, (b = { bids: new Map(), asks: new Map() }));
    for (const [side, levels] of [[b.bids, msg.data[0]!.bids], [b.asks, msg.data[0]!.asks]] as const) for (const l of levels) if (Number(l[1]) === 0) side.delete(l[0]!); else side.set(l[0]!, l[1]!);
    const pe = inst.tickSize.split(".")[1]?.length ?? 0;
    const qe = inst.lotSize.split(".")[1]?.length ?? 0;
    const conv = (m: Map<string, string>, bid: boolean) => [...m].map(([p, q]) => [parseFixed(p, pe), parseFixed(q, qe)] as [number, number]).sort((x, y) => (bid ? y[0] - x[0] : x[0] - y[0]));
    out.set(`${instrumentIdOf("okx", inst.market, inst.symbol)}@${Number(msg.data[0]!.ts) * 1000}`, { bids: conv(b.bids, true), asks: conv(b.asks, false) });
  }
  return out;
}

beforeAll(async () => {
  subscriber = new FeedSubscriber({ groups: [{ ...dest, iface: "127.0.0.1" }] });
  subscriber.on("update", (e) => {
    if (!e.book.usable) {
      // Statuses carry no levels: AWAITING_SNAPSHOT before the first snapshot, HALTED when the replay ends.
      if (e.kind === "status") return;
      invalidSeen++;
      return;
    }
    seen.set(`${e.book.instrumentId}@${e.book.tsExchangeUs}`, levelsOfView(e.book));
  });
  await subscriber.start();
});

afterAll(async () => {
  await subscriber?.stop();
});

describe("okx: the recording through feeder replay", { timeout: 60_000 }, () => {
  test("converted to a capture, replayed with tick/lot overrides: every message's book reaches the subscriber equal to the reference", async () => {
    const dir = tempDir("feeder-okx-replay-");
    const writer = new CaptureWriter({ dir: join(dir, "cap"), flushBytes: 4096 });
    const { all } = okxRecordingFrames();
    for (const r of all) {
      const instId = /"instId":"([^"]+)"/.exec(r.frame)?.[1];
      const market = INST.find((i) => i.symbol === instId)?.market ?? "inverse";
      writer.write(r.tsRecvUs, "okx", market, `conn0.${market}`, r.frame);
    }
    writer.close();
    const raw = {
      log: { level: "error", format: "json" },
      http: { enabled: false },
      publish: { snapshot_interval_ms: 0, heartbeat_interval_ms: 60_000, startup_listen_ms: 0, destinations: [{ name: "replay", group: dest.group, port: dest.port, interface: "127.0.0.1", ttl: 1, channel: 3 }] },
      venues: {
        okx: {
          ws_url: "ws://127.0.0.1:9/ws/v5/public",
          rest_url: "http://127.0.0.1:9",
          instrument_cache: join(dir, "instruments.json"),
          spot: { depth: 400, symbols: ["BTC-USDT"] },
          inverse: { depth: 400, symbols: ["BTC-USD-220527", "UNI-USD-SWAP"] },
        },
      },
    };
    const configPath = join(dir, "replay.toml");
    // Override keys hold a colon: quoted TOML keys, written here (the harness's writer does not quote keys).
    const overrides = INST.map((i) => `[venues.okx.overrides."${i.market}:${i.symbol}"]\ntick_size = "${i.tickSize}"\nlot_size = "${i.lotSize}"\n`).join("");
    writeFileSync(configPath, toToml(raw) + overrides);
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["replay", "--config", configPath, ...writer.files], { out: (t) => out.push(t), err: (t) => err.push(t) });
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const summary = JSON.parse(out.at(-1)!);
    expect(summary).toMatchObject({ frames: all.length, ingested: all.length, skipped: 0 });
    const ref = reference();
    expect(ref.size).toBe(290);
    await waitFor(() => [...ref.keys()].every((k) => seen.has(k)), "every recorded message's book at the subscriber", 20_000);
    let equal = 0;
    for (const [k, levels] of ref) {
      expect(sameLevels(seen.get(k)!, levels), k).toBe(true);
      equal++;
    }
    expect(equal).toBe(290);
    expect(invalidSeen).toBe(0);
    expect(subscriber.counters.gaps).toBe(0);
  });
});
