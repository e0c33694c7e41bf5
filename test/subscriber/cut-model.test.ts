/**
 * A reference model checked at EVERY step (the fuzz checks only after clean refresh rounds, at depth 8): a publisher
 * model (real encoder and packers, two instruments on two channels, the second delivered late) publishes with
 * publish.snapshot_depth 1, 2, 3, 5 and 0 — venue snapshots, refreshes, statuses, split deltas, and deltas aimed at
 * the cut: at the level N-th from the best and around it, at a cut side's last price, across it, and at the best
 * (so a side's best moves past the floor) — with datagrams lost and repeated, and publisher restarts. The publisher
 * keeps its book at every instrSeq. After every datagram batch, each `usable` subscriber book must be the
 * publisher's book at the book's own instrSeq: each side a prefix of the publisher's (its top levels exactly),
 * holding every level of the publisher's from its floor (bidFloorPx / askCeilPx) up, empty only when the
 * publisher's side is, and in the publisher's state. The subscriber is not told the depth (the snapshots' cutFlags
 * say where they were cut).
 */
import { expect, it } from "vitest";
import { ChangeSet } from "../../src/core/change-set.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { EncodedDefinition, packBookDelta, packBookSnapshot, packBookStatus, packInstrumentDefinition } from "../../src/wire/encoder.ts";
import type { ChannelPacker } from "../../src/wire/packer.ts";
import { makeInstrument, randInt, rng, TestBook } from "../wire/helpers.ts";
import { newSubscriber, packer, take, T0 } from "./feed-harness.ts";

type Levels = [number, number][];
interface Seen {
  bids: Levels;
  asks: Levels;
  state: BookState;
}

/** Best bid never above 1000, best ask never below 1002: the model's books never cross. */
const TOP_BID = 1000;
const TOP_ASK = 1002;

interface RunResult {
  wrong: string;
  checked: number;
  /** Checks of a usable book with a cut side (a finite floor), and of a book not usable only for bestLevelsKnown. */
  checkedCut: number;
  emptiedCut: number;
}

function run(seed: number, steps: number, depth: number): RunResult {
  const r = rng(seed);
  let sessionId = 100;
  let startUs = T0;
  let books = ["A", "B"].map((s) => new TestBook(makeInstrument("bybit", "linear", `${s}USDT`, 1, 2)));
  let packers: ChannelPacker[] = [];
  /** The publisher's book by session, instrument and instrSeq. */
  const history = new Map<string, Seen>();
  const keep = (k: number) => {
    const b = books[k]!;
    history.set(`${sessionId}:${k}:${b.instrSeq}`, { bids: b.topBids(), asks: b.topAsks(), state: b.state });
  };
  const venueSnapshot = (k: number) => {
    const b = books[k]!;
    const side = (top: number, dir: number): Levels => {
      const out: Levels = [];
      for (let i = 0, n = randInt(r, 0, depth * 3 + 2), px = top; i < n; i++, px += dir * randInt(r, 1, 2)) out.push([px, randInt(r, 1, 9)]);
      return out;
    };
    b.load(side(TOP_BID, -1), side(TOP_ASK, 1), b.venueSeq + 1, T0);
    b.state = BookState.LIVE;
    b.reason = StatusReason.SNAPSHOT_APPLIED;
    for (const p of packers) packBookSnapshot(p, b, depth, false);
    keep(k);
  };
  const restart = () => {
    sessionId++;
    startUs += 1_000_000;
    const maxBytes = r() < 0.5 ? 256 : 1400; // 256: deltas of more than a few levels split, snapshots chunked
    packers = [1, 2].map((channelId) => packer({ channelId, sessionId, sessionStartUs: startUs, maxBytes }));
    books = books.map((b) => new TestBook(b.instrument));
    books.forEach((b, k) => {
      for (const p of packers) packInstrumentDefinition(p, new EncodedDefinition(b.instrument), false);
      venueSnapshot(k);
    });
  };
  /** A price aimed at the cut (the depth-th level and around it), at the best, or anywhere near the top. */
  const priceFor = (b: TestBook, bid: boolean): number => {
    const n = bid ? b.bidCount : b.askCount;
    const at = (rank: number) => (bid ? b.bidPriceAt(rank) : b.askPriceAt(rank));
    const y = r();
    let px: number;
    if (n > 0 && y < 0.4) px = at(Math.min(n - 1, Math.max(0, depth - 1 + randInt(r, -2, 2)))) + (r() < 0.5 ? 0 : randInt(r, -2, 2));
    else if (n > 0 && y < 0.7) px = at(0);
    else px = bid ? TOP_BID - randInt(r, 0, depth * 4 + 4) : TOP_ASK + randInt(r, 0, depth * 4 + 4);
    return bid ? Math.min(px, TOP_BID) : Math.max(px, TOP_ASK);
  };

  const sub = newSubscriber({ maxDatagramBytes: 1400 });
  restart();
  const cs = new ChangeSet();
  const late: Uint8Array[] = [];
  const res: RunResult = { wrong: "", checked: 0, checkedCut: 0, emptiedCut: 0 };
  for (let step = 0; step < steps; step++) {
    const k = randInt(r, 0, books.length - 1);
    const b = books[k]!;
    const x = r();
    if (x < 0.75) {
      cs.clear();
      const used = new Set<number>();
      for (let i = randInt(r, 1, r() < 0.1 ? 40 : 4); i > 0; i--) {
        const bid = r() < 0.5;
        const px = priceFor(b, bid);
        const key = bid ? px : -px;
        if (used.has(key)) continue;
        used.add(key);
        const qty = (bid ? b.bids : b.asks).has(px) && r() < 0.6 ? 0 : randInt(r, 1, 9);
        if (bid) cs.addBid(px, qty);
        else cs.addAsk(px, qty);
      }
      b.apply(cs, b.venueSeq + 1, T0);
      for (const p of packers) packBookDelta(p, b, cs);
      keep(k);
    } else if (x < 0.8) {
      b.instrSeq++;
      b.state = b.state === BookState.LIVE ? BookState.RESYNCING : BookState.LIVE;
      for (const p of packers) packBookStatus(p, b);
      keep(k);
    } else if (x < 0.87) venueSnapshot(k);
    else if (x < 0.97) for (const p of packers) packBookSnapshot(p, b, depth, true);
    else if (x < 0.975) restart();

    // Channel 1 now, channel 2 later (a lagging copy); some datagrams lost, some repeated.
    const batch = take(packers[0]!);
    late.push(...take(packers[1]!));
    if (r() < 0.3) batch.push(...late.splice(0));
    for (const d of batch) {
      if (r() < 0.03) continue;
      sub.ingest(d, T0);
      if (r() < 0.03) sub.ingest(d, T0);
    }

    for (let kk = 0; kk < books.length && res.wrong === ""; kk++) {
      const sb = sub.book(books[kk]!.instrument.instrumentId);
      if (sb === undefined) continue;
      const cut = sb.bidFloorPx !== -Infinity || sb.askCeilPx !== Infinity;
      if (sb.valid && !sb.bestLevelsKnown) res.emptiedCut++;
      if (!sb.usable) continue;
      res.checked++;
      if (cut) res.checkedCut++;
      const what = `seed ${seed} depth ${depth} step ${step} ${sb.instrument.symbol} instrSeq ${sb.instrSeq}`;
      const want = history.get(`${sb.sessionId}:${kk}:${sb.instrSeq}`);
      if (want === undefined) {
        res.wrong = `${what}: usable at an instrSeq the publisher never had`;
        continue;
      }
      if (sb.state !== want.state) res.wrong = `${what}: state ${sb.state}, the publisher's ${want.state}`;
      for (const bid of [true, false]) {
        const pub = bid ? want.bids : want.asks;
        const n = bid ? sb.bidCount : sb.askCount;
        const floor = bid ? sb.bidFloorPx : sb.askCeilPx;
        const name = bid ? "bid" : "ask";
        for (let i = 0; i < n && res.wrong === ""; i++) {
          const got: [number, number] = bid ? [sb.bidPriceAt(i), sb.bidQtyAt(i)] : [sb.askPriceAt(i), sb.askQtyAt(i)];
          if (got[0] !== pub[i]?.[0] || got[1] !== pub[i]?.[1]) res.wrong = `${what}: ${name} rank ${i} ${got.join(" × ")}, the publisher's ${pub[i]?.join(" × ") ?? "none"}`;
        }
        const known = pub.filter(([px]) => (bid ? px >= floor : px <= floor)).length;
        if (res.wrong === "" && n < known) res.wrong = `${what}: ${n} ${name}s, the publisher ${known} from the floor ${floor} up`;
        if (res.wrong === "" && n === 0 && pub.length > 0) res.wrong = `${what}: no ${name}s, the publisher ${pub.length}`;
      }
    }
    if (res.wrong !== "") break;
  }
  return res;
}

it("at every step, with publish.snapshot_depth 1, 2, 3, 5 and 0 (not told to the subscriber): a usable book is the publisher's top levels exactly, down to its floor, at its instrSeq", () => {
  const wrong: string[] = [];
  for (const depth of [1, 2, 3, 5, 0]) {
    const total = { checked: 0, checkedCut: 0, emptiedCut: 0 };
    for (let seed = 1; seed <= 8; seed++) {
      const res = run(seed, 2500, depth);
      if (res.wrong !== "") wrong.push(res.wrong);
      total.checked += res.checked;
      total.checkedCut += res.checkedCut;
      total.emptiedCut += res.emptiedCut;
    }
    expect(wrong).toEqual([]);
    // The cases this is about did happen: usable books with a cut side, and cut sides emptied of every known level.
    expect(total.checked, `depth ${depth}`).toBeGreaterThan(10_000);
    if (depth > 0) expect([total.checkedCut > 1000, total.emptiedCut > 0], `depth ${depth}`).toEqual([true, true]);
    else expect(total.checkedCut, "depth 0: nothing cut").toBe(0);
  }
}, 120_000);
