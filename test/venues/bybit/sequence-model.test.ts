/**
 * Bybit's `u` rule through the adapter (replay mode, one socket, frames fed straight into its connection), randomized
 * against a simulated venue, at depth 200 and at depth 1 (snapshots only, each the venue's top level a side): deltas (u + 1) some of which are lost, snapshots re-sent at the current u, venue resets
 * (u = 1, as a snapshot or a delta; a reset snapshot sometimes lost), the last frame delivered again, and after each
 * resync the snapshot the live run's resubscribe would get. The rule checked: after every frame, the book is LIVE
 * only while it equals the venue's book as of the newest frame delivered. Left out, as documented
 * (docs/venues/bybit.md, "Sequencing"): a lost reset whose new u passes the last u seen before any frame arrives,
 * so resets are lost only at u ≥ 10 (its deltas would then have to be lost 9 in a row, at 7 % each).
 */
import { describe, expect, test } from "vitest";
import { Rng } from "../../../src/sim/rng.ts";
import { replayedBybit } from "./replayed-rig.ts";

type Book = Map<string, string>; // "b:price" / "a:price" → qty text

function sideText(book: Book, side: "b" | "a"): string {
  return [...book]
    .filter(([k]) => k.startsWith(side))
    .map(([k, q]) => `["${k.slice(2)}","${q}"]`)
    .join(",");
}

/** The venue's depth-N window of a book: its best `depth` bids and asks (a snapshot holds no more: over_depth). */
function windowed(book: Book, depth: number): Book {
  const side = (s: "b" | "a") => [...book].filter(([k]) => k.startsWith(s)).sort(([x], [y]) => (s === "b" ? -1 : 1) * (Number(x.slice(2)) - Number(y.slice(2)))).slice(0, depth);
  return new Map([...side("b"), ...side("a")]);
}

function frameOf(depth: number, type: "snapshot" | "delta", u: number, book: Book): string {
  const levels = type === "snapshot" ? windowed(book, depth) : book;
  return `{"topic":"orderbook.${depth}.BTCUSDT","type":"${type}","ts":1,"data":{"s":"BTCUSDT","b":[${sideText(levels, "b")}],"a":[${sideText(levels, "a")}],"u":${u},"seq":1},"cts":1}`;
}

/** The sink's book in the same text form (tick 0.1, lot 0.001), to compare with the venue's. */
function sinkBook(bids: Map<number, number> | undefined, asks: Map<number, number> | undefined): Book {
  const out: Book = new Map();
  for (const [side, m] of [["b", bids], ["a", asks]] as const) for (const [px, q] of m ?? []) out.set(`${side}:${(px / 10).toFixed(1)}`, (q / 1000).toFixed(3));
  return out;
}

function same(a: Book, b: Book): boolean {
  return a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
}

const SEEDS = 12;
const STEPS = 400;

describe("bybit sequencing, randomized against a simulated venue", () => {
  test(`LIVE only while the book is the venue's as of the newest frame delivered (${SEEDS} seeds × ${STEPS} frames)`, async () => {
    let checked = 0;
    let liveChecks = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const rng = new Rng(seed);
      const rnd = () => rng.next();
      const pick = (n: number) => Math.floor(rnd() * n);
      // Odd seeds depth 200 (snapshot, then deltas); even seeds depth 1, which Bybit sends as snapshots only (§4.2).
      const depth = seed % 2 === 1 ? 200 : 1;
      const snapshotsOnly = depth === 1;
      const { adapter, sink, conn } = await replayedBybit(depth);
      const venue: Book = new Map();
      const randomLevel = (): [string, string] => {
        const bid = rnd() < 0.5;
        const px = bid ? 1000 + pick(10) : 1011 + pick(10);
        return [`${bid ? "b" : "a"}:${(px / 10).toFixed(1)}`, rnd() < 0.3 ? "0" : `${1 + pick(9)}.000`];
      };
      const freshBook = () => {
        venue.clear();
        for (let i = 0; i < 8; i++) {
          const [k, q] = randomLevel();
          if (q !== "0") venue.set(k, q);
        }
      };
      freshBook();
      let u = 1000 + pick(100);
      let newest: Book = windowed(venue, depth); // the venue's book as of the newest frame delivered
      let lastFrame = "";
      const deliver = (f: string, state: Book | null) => {
        conn.onFrameAt(f, 1);
        lastFrame = f;
        if (state) newest = windowed(state, depth); // depth 200 holds the whole simulated book (≤ 20 levels)
      };
      deliver(frameOf(depth, "snapshot", u, venue), venue);
      for (let step = 0; step < STEPS; step++) {
        const live = adapter.topicInfo(0).state === "live";
        const r = rnd();
        if (!live && rnd() < 0.5) {
          deliver(frameOf(depth, "snapshot", u, venue), venue); // the resubscribe's snapshot
        } else if (r < 0.75) {
          const changes: Book = new Map();
          for (let i = 1 + pick(3); i > 0; i--) {
            const [k, q] = randomLevel();
            changes.set(k, q);
          }
          for (const [k, q] of changes) (q === "0" ? venue.delete(k) : venue.set(k, q));
          u++;
          // Else lost: the next delta shows the gap (on depth 1 the next snapshot replaces the book anyway).
          if (rnd() < 0.93) deliver(snapshotsOnly ? frameOf(depth, "snapshot", u, venue) : frameOf(depth, "delta", u, changes), venue);
        } else if (r < 0.82) {
          deliver(frameOf(depth, "snapshot", u, venue), venue); // re-sent by the venue at the current u
        } else if (r < 0.88) {
          const lost = u >= 10 && rnd() < 0.3; // lost only where the next delivered frame can show it (see the top)
          freshBook(); // a venue reset: u back to 1
          u = 1;
          if (!lost) deliver(frameOf(depth, "snapshot", u, venue), venue);
        } else if (r < 0.92) {
          // A reset pushed as a delta (a lot/tick change's u = 1): its changes on the book as it was.
          const [k, q] = randomLevel();
          q === "0" ? venue.delete(k) : venue.set(k, q);
          u = 1;
          deliver(snapshotsOnly ? frameOf(depth, "snapshot", u, venue) : frameOf(depth, "delta", u, new Map([[k, q]])), venue);
        } else if (lastFrame !== "") {
          deliver(lastFrame, null); // the last frame again
        }
        checked++;
        if (adapter.topicInfo(0).state === "live") {
          liveChecks++;
          const shown = sinkBook(sink.bids[0], sink.asks[0]);
          if (!same(shown, newest)) expect.fail(`seed ${seed} step ${step}: LIVE at u ${adapter.topicInfo(0).lastU} but not the venue's book`);
        }
      }
      await adapter.stop();
    }
    expect(checked).toBe(SEEDS * STEPS);
    expect(liveChecks).toBeGreaterThan(checked / 2); // the rule is exercised while LIVE, not only while resyncing
  });
});
