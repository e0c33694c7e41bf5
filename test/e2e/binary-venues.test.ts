/**
 * The compiled executable end to end, per venue and per fault: `npm run build` once for the run (binary-build.ts)
 * → `feeder run --config FILE` against each venue's simulator (in process) → real multicast (239.255.x.x, interface
 * 127.0.0.1, TTL 1) → FeedSubscriber. Venues run three at a time; one feeder process per venue runs that venue's faults one after another:
 * Bybit (spot, linear, inverse, option), OKX (with `books`' snapshot, and bridged from REST snapshots), Binance (spot and USD-M), Deribit, Coinbase,
 * Upbit, Bithumb. Whatever event the subscriber raises, a book it shows usable must equal the simulator's book at that
 * venue sequence. Per fault: the feeder met it (its own counter on /metrics grew, or for Upbit's zero-size level,
 * which it counts nowhere, the simulator's count of such books served: the fault happened, not skipped by timing); a fault that breaks the target's stream makes the target not usable while it lasts; a harmless one
 * (a repeat, a keepalive) and a planned reconnect (OKX's 64008 notice, Binance's serverShutdown) leave every book
 * LIVE throughout; after each, every book is usable and equal again. SIGTERM publishes every book halted; exit 0.
 * Every book is compared at least once from a fault's injection to its recovery, and the target after the feeder
 * met it: the check cannot hold vacuously over a fault. The cases (venues, faults, counters) are binary-venues-cases.ts.
 * The venue × fault table (this file, the in-process e2e files and the chaos runs) is in docs/add-venue.md, checked
 * against the cases by test/docs/venue-fault-table.test.ts.
 */
import { beforeAll, describe, test } from "vitest";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { instrumentIdOf } from "../../src/core/instrument-id.ts";
import { BookState, StatusReason } from "../../src/core/types.ts";
import { FeedSubscriber, type SubscriberBook } from "../../src/subscriber/index.ts";
import { laneLimit } from "../support/lanes.ts";
import { sharedBinary, spawnFeeder } from "./binary-build.ts";
import { CASES, type Sides, type Topic } from "./binary-venues-cases.ts";
import { levelsOfSim, levelsOfView, sameLevels, tempDir, toToml, uniqueDestination, waitFor } from "./harness.ts";

const stateName = (s: number) => Object.entries(BookState).find(([, v]) => v === s)?.[0] ?? String(s);

/** `feeder_venue_<name>` summed over its labels, from the feeder's /metrics text. */
function metricSum(text: string, name: string): number {
  let n = 0;
  const prefix = `feeder_venue_${name}{`;
  for (const line of text.split("\n")) if (line.startsWith(prefix)) n += Number(line.slice(line.lastIndexOf(" ") + 1));
  return n;
}

let binary: string;
let dir: string;

beforeAll(() => {
  dir = tempDir("feeder-bin-venues-");
  binary = sharedBinary();
}, 120_000);

/**
 * Venues run this many at a time (each its own simulator, feeder process, group and port): one after another took
 * ~56 s for ~22 s of CPU, most of it waiting on the feeder's reconnects and resyncs. The timeout covers a lane's wait.
 */
const VENUE_LANES = 3;
const inLane = laneLimit(VENUE_LANES);
const CASE_TIMEOUT_MS = 90_000;

describe.concurrent("compiled feeder binary against every venue simulator, fault by fault", { timeout: Math.ceil(CASES.length / VENUE_LANES + 1) * CASE_TIMEOUT_MS }, () => {
  for (const [n, c] of CASES.entries()) {
    test(`${c.label ?? c.venue}: usable only while equal; each fault met, breaking the target or keeping every book LIVE; recovered equal; SIGTERM exits 0`, ({ expect }) => inLane(async () => {
      const topics: Topic[] = c.topics.map((t) => ({ ...t, id: instrumentIdOf(c.venue, t.market, t.symbol) }));
      const sim = await c.start();
      const { group, port } = uniqueDestination(70 + n);
      const subscriber = new FeedSubscriber({ groups: [{ group, port, iface: "127.0.0.1" }] });
      let feeder: ReturnType<typeof spawnFeeder> | undefined;
      try {
        /** The simulator's books by topic and sequence (several per sequence where a venue restarts its numbering). */
        const history = new Map<number, Map<number, Sides[]>>();
        const record = () => {
          for (const t of topics) {
            const b = sim.book(t);
            let h = history.get(t.id);
            if (!h) history.set(t.id, (h = new Map()));
            const at = h.get(b.seq) ?? [];
            at.push({ bids: b.bids, asks: b.asks });
            h.set(b.seq, at);
          }
        };
        const step = () => {
          record(); // a resubscribe or reconnect may have moved the simulator by itself
          sim.step();
          record();
        };
        let lastStep = 0;
        const pace = () => {
          // While waiting for the feeder: keep the simulator moving, every 20 ms at most.
          if (Date.now() - lastStep < 20) return;
          lastStep = Date.now();
          step();
        };
        const levels = (b: Sides, pe: number, qe: number) => (sim.levels ?? levelsOfSim)(b, pe, qe);

        const violations: string[] = [];
        /** Books seen not usable, and books seen leaving LIVE, since the current fault was injected. */
        const notUsable = new Set<number>();
        const leftLive = new Set<string>();
        let validChecks = 0;
        /** Valid checks per topic since the current fault was injected; of its target since the feeder met it. */
        const faultChecks = new Map<number, number>();
        let metTarget = -1;
        let targetChecksAfterMet = 0;
        const lastChecked = new Map<number, string>();
        const check = (book: SubscriberBook, event: string) => {
          const t = topics.find((x) => x.id === book.instrumentId);
          if (!t) return;
          if (book.state !== BookState.LIVE) leftLive.add(`${t.market}:${t.symbol} ${stateName(book.state)} (${event})`);
          if (!book.usable) return void notUsable.add(t.id);
          const key = `${book.sessionId}:${book.instrSeq}:${book.venueSeq}:${book.updates}`;
          if (lastChecked.get(t.id) === key) return;
          lastChecked.set(t.id, key);
          const got = levelsOfView(book);
          const pe = book.instrument.priceExp;
          const qe = book.instrument.qtyExp;
          const matches = () => {
            const had = sim.booksAt ? sim.booksAt(t, book.venueSeq) : history.get(t.id)?.get(book.venueSeq);
            return had === undefined || had.length === 0 ? undefined : had.some((s) => sameLevels(got, levels(s, pe, qe)));
          };
          let ok = matches();
          if (ok !== true && !sim.booksAt) {
            record(); // reached by the simulator itself (a snapshot on attach or resubscribe): its book now
            ok = matches();
          }
          if (ok === undefined) violations.push(`${t.market}:${t.symbol} usable at ${book.venueSeq} (${event}), a sequence the simulator never had`);
          else if (!ok) violations.push(`${t.market}:${t.symbol} usable at ${book.venueSeq} (${event}) but differs from the simulator's book there`);
          else {
            validChecks++;
            faultChecks.set(t.id, (faultChecks.get(t.id) ?? 0) + 1);
            if (t.id === metTarget) targetChecksAfterMet++;
          }
        };
        /**
         * A book can turn usable with no event of its own (its stream's staleness ended by a heartbeat, a held gap's
         * request over): every poll looks at each book too, so such a book is compared before any wait can end.
         */
        const sweep = () => {
          for (const b of subscriber.books.values()) check(b, "poll");
        };
        // Every event that can show a book usable or take it out of LIVE.
        subscriber.on("update", ({ book }) => check(book, "update"));
        subscriber.on("status", ({ book }) => check(book, "status"));
        await subscriber.start();

        const allEqual = () =>
          topics.every((t) => {
            const b = subscriber.books.get(t.id);
            if (!b || !b.usable) return false;
            const s = sim.book(t);
            return b.venueSeq === s.seq && sameLevels(levelsOfView(b), levels(s, b.instrument.priceExp, b.instrument.qtyExp));
          });

        const configPath = join(dir, `${n}-${c.venue}.toml`); // two OKX cases run at once
        const config = {
          workers: 1,
          // info: the "HTTP listening" line names the port the kernel gave /metrics.
          log: { level: "info", format: "json" },
          http: { enabled: true, listen: "127.0.0.1:0" },
          publish: {
            heartbeat_interval_ms: 200,
            snapshot_interval_ms: 500,
            startup_listen_ms: 0,
            destinations: [{ name: "e2e", group, port, interface: "127.0.0.1", ttl: 1, channel: 7 }],
          },
          venues: { [c.venue]: { ws_url: sim.wsUrl, rest_url: sim.restUrl, instrument_cache: join(tempDir(`feeder-bin-${c.venue}-`), "instruments.json"), ...sim.markets } },
        };
        writeFileSync(configPath, toToml(config));
        record();
        feeder = spawnFeeder(binary, configPath);
        const f = feeder;
        const stderrTail = () => f.stderr().split("\n").filter((l) => !l.includes('"level":"info"')).join("\n").slice(-2000);
        /** waitFor, its failure naming the feeder's state and stderr at that moment. */
        const until = async (cond: () => boolean, what: string, timeoutMs = 10_000, onPoll?: () => void) => {
          try {
            await waitFor(() => (sweep(), cond()), what, timeoutMs, onPoll);
          } catch (e) {
            throw new Error(`${(e as Error).message} (violations: ${violations.slice(0, 3).join("; ") || "none"}; feeder exit code ${f.proc.exitCode}, stderr: ${stderrTail()})`);
          }
        };
        let metricsUrl = "";
        await until(() => (metricsUrl = /"msg":"HTTP listening".*?"url":"([^"]+)"/.exec(f.stderr())?.[1] ?? "") !== "", "the feeder's HTTP listening", 20_000);
        const counter = async (names: string[]) => {
          const text = await (await fetch(`${metricsUrl}/metrics`)).text();
          return names.reduce((sum, name) => sum + metricSum(text, name), 0);
        };

        await until(allEqual, `every ${c.venue} instrument usable and equal`, 20_000, pace);
        for (let i = 0; i < 5; i++) {
          step();
          await until(allEqual, `${c.venue} books equal after step ${i}`);
        }

        for (const fault of sim.faults) {
          const before = (await counter(fault.counters)) + (fault.served?.() ?? 0);
          notUsable.clear();
          leftLive.clear();
          faultChecks.clear();
          metTarget = -1;
          targetChecksAfterMet = 0;
          const target = topics[fault.target ?? 0]!;
          fault.inject();
          step();
          // The feeder met the fault: its counter grew (the simulator kept moving meanwhile).
          const deadline = Date.now() + 20_000;
          let met = before;
          while ((met = (await counter(fault.counters)) + (fault.served?.() ?? 0)) <= before) {
            if (Date.now() > deadline) {
              const text = await (await fetch(`${metricsUrl}/metrics`)).text();
              const counted = text.split("\n").filter((l) => l.startsWith("feeder_venue_") && /_total\{/.test(l) && !l.endsWith(" 0"));
              throw new Error(`${c.venue} ${fault.name}: ${fault.counters.join(" or ")} still ${met} after 20 s (counters: ${counted.join("; ")}; stderr: ${stderrTail()})`);
            }
            pace();
            await new Promise((r) => setTimeout(r, 20));
          }
          // From here the fault has hit: the target must be compared again (its recovery, or its next update) before
          // the checks, and every book at least once since the injection, or "none usable while different" held
          // vacuously over this fault. A step makes every book move past what it showed before the fault was met.
          metTarget = target.id;
          step();
          if (fault.expect === "break") await until(() => notUsable.has(target.id), `${target.market}:${target.symbol} not usable after ${fault.name}`, 15_000, pace);
          if (fault.settled) await until(fault.settled, `${c.venue} ${fault.name}: the simulator's side over`, 20_000, pace);
          await until(allEqual, `${c.venue} books equal after recovering from ${fault.name}`, 20_000, pace);
          const unchecked = topics.filter((t) => !faultChecks.get(t.id)).map((t) => `${t.market}:${t.symbol}`);
          expect(unchecked, `${c.venue} ${fault.name}: books never compared from the injection to the recovery`).toEqual([]);
          expect(targetChecksAfterMet, `${c.venue} ${fault.name}: ${target.market}:${target.symbol} compared after the feeder met the fault`).toBeGreaterThan(0);
          for (let i = 0; i < 3; i++) {
            step();
            await until(allEqual, `${c.venue} books equal after ${fault.name}, step ${i}`);
          }
          if (fault.expect === "keep") {
            expect([...leftLive], `${c.venue} ${fault.name}: every book stays LIVE`).toEqual([]);
            expect([...notUsable], `${c.venue} ${fault.name}: every book stays usable`).toEqual([]);
          }
          expect(violations, `${c.venue} after ${fault.name}`).toEqual([]);
        }
        expect(validChecks).toBeGreaterThan(10 * sim.faults.length);

        f.proc.kill("SIGTERM");
        expect(await f.proc.exited).toBe(0);
        await waitFor(() => topics.every((t) => subscriber.books.get(t.id)?.state === BookState.HALTED), `every ${c.venue} book published halted`, 5_000);
        for (const t of topics) expect(subscriber.books.get(t.id)!.reason).toBe(StatusReason.SHUTDOWN);
        expect(violations).toEqual([]);
      } finally {
        feeder?.proc.kill("SIGKILL");
        await subscriber.stop();
        await sim.stop();
      }
    }));
  }
});
