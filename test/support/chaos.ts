/**
 * Randomized fault schedules, end to end: a venue simulator → the real adapter over a real WebSocket → the Feeder's
 * builders → real multicast on 127.0.0.1 (TTL 1) → the real FeedSubscriber. A seeded schedule interleaves normal
 * traffic with the venue's faults and with faults of the feed itself (a publisher restart, a subscriber joining
 * anew, lost, reordered, corrupted, replayed and garbage datagrams). After every subscriber event, every book the
 * subscriber shows as `usable` must equal one the venue had at that venue sequence; at the end every book is usable
 * and equal to the venue's book now. The schedule reproduces from its seed; the timing of the interleaving does not
 * (real sockets). Options put more of the system between venue and subscriber: `workers` (the Supervisor and Bun
 * Workers, chaos-publishers.ts) and `shards` (several such Supervisors, one shard each, each worker its own
 * retransmission server), `retransmitFaults` / `auth` (a misbehaving retransmission server,
 * chaos-retransmit.ts), `nats` (the subscriber reads the NATS bridge's JetStream stream, chaos-nats.ts).
 *
 * Environment: CHAOS_SEEDS / CHAOS_RUNS / CHAOS_OPS choose the runs (chaosSeeds, chaosOps); CHAOS_FAULTS=a,b keeps
 * only those faults; CHAOS_FAULT_RATE=0.5 makes half the operations faults (default 0.25); CHAOS_TRACE=1 prints a
 * book's last events with the first violation; CHAOS_VERBOSE=1 (in the tests) prints one line per run. The types
 * (ChaosVenue, ChaosOptions, ChaosResult…) are in chaos-types.ts; what the venues share, in chaos-venue.ts.
 * @module
 */
import { openMulticastSender } from "../../src/net/multicast.ts";
import { Rng } from "../../src/sim/rng.ts";
import { FeedSubscriber, type SubscriberBook } from "../../src/subscriber/index.ts";
import { BookState } from "../../src/core/types.ts";
import { parseFixed } from "../../src/core/fixed.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { levelsOfView, waitFor, type Levels } from "../e2e/harness.ts";
import type { ChaosDestination, ChaosFault, ChaosOptions, ChaosResult, ChaosTopic, ChaosVenue, SimSides } from "./chaos-types.ts";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { ANSWER_FAULTS, openRetransmitProxies, openRetransmitProxy } from "./chaos-retransmit.ts";
import { makeTempDir } from "./temp-dirs.ts";
import { openNatsPath } from "./chaos-nats.ts";
import { feederPublisher, openRelay, shardedPublisher, workersPublisher, type ChaosPublisher, type FeederStats } from "./chaos-publishers.ts";

/**
 * The seeds to run: CHAOS_SEEDS="1,2,3" runs exactly those, CHAOS_RUNS=N runs N seeds from the first default;
 * otherwise the defaults (a few, to keep CI short).
 */
export function chaosSeeds(defaults: readonly number[]): number[] {
  const list = process.env.CHAOS_SEEDS;
  if (list) return list.split(",").map((s) => Number(s.trim())).filter((n) => Number.isInteger(n));
  const runs = Number(process.env.CHAOS_RUNS ?? "");
  if (Number.isInteger(runs) && runs > 0) return Array.from({ length: runs }, (_, i) => defaults[0]! + i);
  return [...defaults];
}

/** Schedule operations per run: CHAOS_OPS overrides the test's own number. */
export function chaosOps(defaultOps: number): number {
  const n = Number(process.env.CHAOS_OPS ?? "");
  return Number.isInteger(n) && n > 0 ? n : defaultOps;
}

/** The subscriber's wait for a retransmission before it falls back to the refresh. */
const RETX_TIMEOUT_MS = 250;

export type { ChaosDestination, ChaosFault, ChaosOptions, ChaosResult, ChaosTopic, ChaosVenue, SimSides };

const delay = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runChaos(venue: ChaosVenue, o: ChaosOptions): Promise<ChaosResult> {
  const startedMs = Date.now();
  const rng = new Rng(o.seed);
  const violations: string[] = [];
  const schedule: string[] = [];
  const faultsInjected: Record<string, number> = {};
  let usableChecks = 0;
  let notUsableSeen = 0;
  let op = -1;
  const byId = new Map(venue.topics.map((t) => [t.id, t]));
  const parse = venue.parse ?? parseFixed;
  /**
   * The venue's book in mantissas at the book's exponents; null when it does not fit them (another tick's book).
   * Converted once per state and exponents, not per check: a state's Maps never change once given (SimSides), so
   * they key the conversion (the bids Map, its asks Map beside it).
   */
  const converted = new WeakMap<Map<string, string>, { asks: Map<string, string>; byExps: Map<number, Levels | null> }>();
  const levelsOfSim = (b: SimSides, priceExp: number, qtyExp: number): Levels | null => {
    let c = converted.get(b.bids);
    if (c === undefined || c.asks !== b.asks) converted.set(b.bids, (c = { asks: b.asks, byExps: new Map() }));
    const exps = (priceExp + 1024) * 4096 + qtyExp + 1024;
    let levels = c.byExps.get(exps);
    if (levels === undefined) c.byExps.set(exps, (levels = convertSim(b, priceExp, qtyExp)));
    return levels;
  };
  const convertSim = (b: SimSides, priceExp: number, qtyExp: number): Levels | null => {
    const conv = (m: Map<string, string>) => [...m].map(([p, q]) => [parse(p, priceExp), parse(q, qtyExp)] as [number, number]);
    try {
      return { bids: conv(b.bids).sort((x, y) => y[0] - x[0]), asks: conv(b.asks).sort((x, y) => x[0] - y[0]) };
    } catch {
      return null;
    }
  };
  /** The book shown has exactly these levels (integers compared in place; text only for a violation's message). */
  const same = (v: BookView, want: Levels | null): boolean => {
    if (want === null || v.bidCount !== want.bids.length || v.askCount !== want.asks.length) return false;
    for (let r = 0; r < v.bidCount; r++) if (v.bidPriceAt(r) !== want.bids[r]![0] || v.bidQtyAt(r) !== want.bids[r]![1]) return false;
    for (let r = 0; r < v.askCount; r++) if (v.askPriceAt(r) !== want.asks[r]![0] || v.askQtyAt(r) !== want.asks[r]![1]) return false;
    return true;
  };

  // ── the feed side: capture, loss and reordering through the publisher's drop hook ──
  const captured: Uint8Array[] = []; // the last datagrams sent, for replay and corruption
  let dropNext = 0;
  let holdNext = 0;
  const held: Uint8Array[] = [];
  let releaseAfter = 0;
  const sender = await openMulticastSender({ iface: "127.0.0.1", ttl: 1 });
  const resend = (bytes: Uint8Array) => sender.send(bytes, o.port, o.group);
  const dropFilter = (_ch: number, _seq: number, bytes: Uint8Array): boolean => {
    if (captured.length >= 64) captured.shift();
    captured.push(bytes.slice());
    if (dropNext > 0) {
      dropNext--;
      return true;
    }
    if (holdNext > 0) {
      holdNext--;
      held.push(bytes.slice());
      return true;
    }
    if (held.length > 0 && --releaseAfter <= 0) queueMicrotask(() => held.splice(0).forEach(resend)); // after this one: reordered
    return false;
  };

  let sub = null as unknown as FeedSubscriber; // set by startSubscriber below
  const lastChecked = new Map<number, string>();
  const trace = new Map<number, string[]>();
  const check = (b: SubscriberBook) => {
    const t = byId.get(b.instrumentId);
    if (!t) return;
    if (!b.usable) {
      if (lastChecked.get(b.instrumentId) !== "not usable") notUsableSeen++;
      lastChecked.set(b.instrumentId, "not usable");
      return;
    }
    const key = `${b.sessionId}:${b.instrSeq}:${b.updates}:${b.repairs}:${b.venueSeq}`;
    if (lastChecked.get(b.instrumentId) === key) return;
    lastChecked.set(b.instrumentId, key);
    const candidates = [...t.booksAt(b.venueSeq)];
    const now = t.now();
    if (now.seq === b.venueSeq) candidates.push(now);
    usableChecks++;
    if (candidates.length === 0) violations.push(`seed ${o.seed} op ${op}: ${t.label} usable at venue seq ${b.venueSeq}, which the venue never had`);
    else if (!candidates.some((c) => same(b, levelsOfSim(c, b.instrument.priceExp, b.instrument.qtyExp)))) {
      const seen = levelsOfView(b);
      const fits = candidates.map((c) => levelsOfSim(c, b.instrument.priceExp, b.instrument.qtyExp)).filter((l): l is Levels => l !== null);
      const why = fits.length === 0 ? `no book the venue had then fits exponents ${b.instrument.priceExp}/${b.instrument.qtyExp}` : firstDifference(seen, fits[0]!);
      violations.push(`seed ${o.seed} op ${op}: ${t.label} usable at venue seq ${b.venueSeq} but differs from the venue's book (state ${b.state}, instrSeq ${b.instrSeq}; ${candidates.length} candidate(s): ${why})`);
      if (violations.length === 1 && process.env.CHAOS_TRACE) console.log(`${t.label} events:\n${(trace.get(t.id) ?? []).join("\n")}`);
    }
  };
  const checkAll = () => {
    for (const t of venue.topics) {
      const b = sub.books.get(t.id);
      if (b) check(b);
    }
  };
  /** A new subscriber joining the feed mid-stream (at the start, and for the subscriberRestart fault). */
  const startSubscriber = async () => {
    // With workers, source s answers on port + s (through its proxy).
    const port = retxProxy?.port ?? retxPort;
    const retransmit = port > 0 ? { host: "127.0.0.1", port, timeoutMs: RETX_TIMEOUT_MS, ...(workers > 1 ? { sourceIdBase: 0 } : {}) } : undefined;
    const groups = natsPath ? [] : [{ group: o.group, port: o.port, iface: "127.0.0.1" }];
    sub = new FeedSubscriber({ groups, retransmit, ...(authKeyFile ? { authKeyFile } : {}) });
    lastChecked.clear();
    if (process.env.CHAOS_TRACE) {
      // The last events of every book, printed with the first violation (CHAOS_TRACE=1).
      const note = (id: number, what: string) => {
        const list = trace.get(id) ?? [];
        list.push(`op ${op} ${what}`);
        if (list.length > 40) list.shift();
        trace.set(id, list);
      };
      const bookText = (b: SubscriberBook) => `state ${b.state}/${b.reason} valid ${b.valid} usable ${b.usable} instrSeq ${b.instrSeq} seq ${b.venueSeq} exps ${b.instrument.priceExp}/${b.instrument.qtyExp} levels ${b.bidCount}/${b.askCount} session ${b.sessionId}`;
      sub.on("update", (e) => note(e.book.instrumentId, `update ${e.kind}${e.refresh ? " (refresh)" : ""}: ${bookText(e.book)}`));
      sub.on("status", (e) => note(e.book.instrumentId, `status: ${bookText(e.book)}`));
      sub.on("exponent", (e) => note(e.book.instrumentId, `exponent ${e.previousPriceExp}→${e.priceExp}: ${bookText(e.book)}`));
      sub.on("repair", (e) => note(e.book.instrumentId, `repair: ${bookText(e.book)}`));
      sub.on("supersede", (e) => note(e.book.instrumentId, `supersede: ${bookText(e.book)}`));
      sub.on("definition", (b) => note(b.instrumentId, `definition: ${bookText(b)}`));
    }
    // Every event, whatever its kind: a book's usability can change through another book's stream (a gap, staleness).
    for (const ev of ["update", "status", "gap", "session", "stale", "repair", "supersede", "exponent", "definition"] as const) sub.on(ev, checkAll);
    await sub.start();
    await natsPath?.attach(sub);
  };
  // The publisher first: with retransmission the subscriber needs the port its request server took.
  const workers = o.workers ?? 1;
  const shards = o.shards ?? 1;
  if (shards > 1 && workers <= 1) throw new Error("runChaos: shards need workers (each shard is a Supervisor)");
  /** Source ids per shard: publish.source_id k × stride, its workers the next `workers` ids. */
  const stride = workers + 1;
  const sources = workers > 1 ? Array.from({ length: shards * workers }, (_, j) => Math.floor(j / workers) * stride + (j % workers) + 1) : [];
  const withRetransmit = o.retransmit === true || o.retransmitFaults === true;
  let authKeyFile: string | undefined;
  let auth: DatagramAuth | undefined;
  if (o.auth) {
    authKeyFile = join(makeTempDir("feeder-chaos-key-"), "feed.key");
    const key = new Uint8Array(32).map((_, i) => (o.seed * 31 + i * 7) & 255);
    writeFileSync(authKeyFile, Buffer.from(key).toString("hex"));
    auth = new DatagramAuth(key);
  }
  // Workers: fixed base ports (source s's server on base + s, its proxy on proxyBase + s); alone: the kernel's pick, kept for restarts.
  let retxPort = withRetransmit && workers > 1 ? 61_000 + Math.floor(Math.random() * 450) * 8 : 0;
  const proxyBase = retxPort + 64 * 8;
  const dest = (k = 0): ChaosDestination => ({
    group: o.group,
    port: workers > 1 ? o.port + 1 : o.port,
    ...(withRetransmit ? { retransmitListen: `127.0.0.1:${retxPort + k * stride}` } : {}),
    ...(authKeyFile ? { authKeyFile } : {}),
    ...(shards > 1 ? { shard: { spec: `${k}/${shards}`, sourceId: k * stride } } : {}),
  });
  const makePublisher = (): ChaosPublisher => {
    if (workers <= 1) return feederPublisher(venue.makeFeeder(dest(), dropFilter));
    if (!venue.feederConfig) throw new Error("runChaos: workers need venue.feederConfig");
    if (shards > 1) return shardedPublisher(shards, (k) => venue.feederConfig!(dest(k), workers));
    return workersPublisher(venue.feederConfig(dest(), workers));
  };
  const relay = workers > 1 ? await openRelay(o.group, o.port + 1, (bytes) => dropFilter(0, 0, bytes), resend) : undefined;
  let feeder = makePublisher();
  await feeder.start();
  if (withRetransmit && workers <= 1) retxPort = feeder.feeder!.publisher.retransmitAddress()!.port;
  // With workers every source gets a proxy (passing answers through unless retransmitFaults queues a fault).
  const retxProxy =
    withRetransmit && workers > 1
      ? await openRetransmitProxies(sources, proxyBase, () => retxPort, RETX_TIMEOUT_MS, auth)
      : o.retransmitFaults
        ? await openRetransmitProxy(() => retxPort, RETX_TIMEOUT_MS, auth)
        : undefined;
  if (retxProxy) retxProxy.live = captured;
  const natsPath = o.nats ? await openNatsPath(o.nats, o.group, o.port, o.seed) : undefined;
  await startSubscriber();
  const equalNow = () =>
    venue.topics.every((t) => {
      const b = sub.books.get(t.id);
      if (!b || !b.usable) return false;
      const now = t.now();
      const exps = venue.exponentsNow?.(t.id);
      if (exps && (b.instrument.priceExp !== exps[0] || b.instrument.qtyExp !== exps[1])) return false;
      return b.venueSeq === now.seq && same(b, levelsOfSim(now, b.instrument.priceExp, b.instrument.qtyExp));
    });
  let polls = 0;
  const budgetMs = o.timeBudgetMs ?? 100_000;
  const endByMs = startedMs + budgetMs;
  const overBudget = () => {
    if (Date.now() > endByMs) throw new Error(`seed ${o.seed}: the run took longer than its ${budgetMs / 1000} s budget (at op ${op}): a wait that does not end, or a machine too busy`);
  };
  const converge = (what: string) =>
    waitFor(() => (venue.ready?.() ?? true) && (natsPath?.ready() ?? true) && equalNow(), `seed ${o.seed}: every book usable and equal to the venue's (${what})`, Math.max(0, Math.min(o.settleTimeoutMs ?? 30_000, endByMs - Date.now())), () => {
      if (++polls % 4 === 0 && (venue.ready?.() ?? true)) venue.step(1); // keep the books moving: a resync may need a message
    }).catch((err: Error) => {
      overBudget(); // the budget cut the wait short: say so
      throw err;
    });

  const feedFaults: ChaosFault[] = [
    {
      name: "publisherRestart",
      weight: 0.3,
      inject: async () => {
        await feeder.stop();
        feeder = makePublisher();
        await feeder.start();
      },
    },
    {
      name: "subscriberRestart",
      weight: 0.3,
      inject: async () => {
        addTotals();
        await sub.stop();
        await startSubscriber();
      },
    },
    // Mostly a few datagrams; sometimes a burst longer than a refresh cycle's worth of deltas.
    { name: "datagramLoss", inject: (r) => void (dropNext += r.next() < 0.8 ? r.int(1, 4) : r.int(10, 60)) },
    {
      name: "datagramReorder",
      inject: (r) => {
        holdNext += r.int(1, 2);
        releaseAfter = r.int(1, 3);
      },
    },
    {
      name: "datagramCorrupt",
      inject: (r) => {
        const d = captured[r.int(0, captured.length - 1)];
        if (!d) return;
        const bad = d.slice();
        bad[r.int(0, bad.length - 1)] ^= 1 << r.int(0, 7);
        resend(bad);
      },
    },
    {
      name: "datagramReplay",
      inject: (r) => {
        const d = captured[r.int(0, captured.length - 1)];
        if (d) resend(d);
      },
    },
    {
      name: "datagramGarbage",
      weight: 0.5,
      inject: (r) => {
        const bad = new Uint8Array(r.int(1, 1400));
        for (let i = 0; i < bad.length; i++) bad[i] = r.int(0, 255);
        resend(bad);
      },
    },
  ];
  // CHAOS_FAULTS=a,b narrows the schedule to those faults (to isolate a failure).
  const only = process.env.CHAOS_FAULTS?.split(",").map((x) => x.trim());
  if (natsPath) feedFaults.push(...natsPath.faults);
  if (retxProxy && o.retransmitFaults) {
    // Lose a few datagrams; the answer to the request for them misbehaves.
    feedFaults.push({
      name: "retransmitAnswer",
      weight: 2,
      inject: (r) => {
        retxProxy.faultNext(ANSWER_FAULTS[r.int(0, ANSWER_FAULTS.length - 1)]!, r);
        dropNext += r.int(1, 3);
      },
    });
  }
  if (workers > 1) {
    // A worker dies (terminated as by a crash); the supervisor restarts it with backoff, the others keep publishing.
    feedFaults.push({ name: "workerKill", weight: 1.5, inject: (r) => (feeder.shards?.[r.int(0, shards - 1)] ?? feeder.supervisor)?.kill(r.int(0, workers - 1)) });
  }
  if (shards > 1) feedFaults.push({ name: "shardRestart", weight: 0.5, inject: (r) => feeder.restartShard!(r.int(0, shards - 1)) });
  const faults = [...venue.faults, ...feedFaults].filter((f) => !only || only.includes(f.name)).map((f) => (o.faultWeights?.[f.name] !== undefined ? { ...f, weight: o.faultWeights[f.name] } : f));
  const totalWeight = faults.reduce((n, f) => n + (f.weight ?? 1), 0);
  const pick = (): ChaosFault => {
    let x = rng.next() * totalWeight;
    for (const f of faults) if ((x -= f.weight ?? 1) < 0) return f;
    return faults[faults.length - 1]!;
  };

  const retransmitTotals = { requests: 0, recovered: 0, fallbacks: 0, rejected: 0 };
  const addTotals = () => {
    const c = sub.counters;
    retransmitTotals.requests += c.retransmitRequests;
    retransmitTotals.recovered += c.retransmitRecovered;
    retransmitTotals.fallbacks += c.retransmitFallbacks;
    retransmitTotals.rejected += c.retransmitRejected;
  };
  const finalExponents = new Map<number, [number, number]>();
  let stats: FeederStats | undefined;
  let applyErrors = 0;
  try {
    await converge("start");
    for (op = 0; op < o.ops; op++) {
      overBudget();
      if (rng.next() < (o.faultRate ?? (Number(process.env.CHAOS_FAULT_RATE) || 0.25))) {
        const f = pick();
        const target = venue.topics[rng.int(0, venue.topics.length - 1)]!;
        schedule.push(`${op}:${f.name}:${target.label}`);
        faultsInjected[f.name] = (faultsInjected[f.name] ?? 0) + 1;
        await f.inject(rng, target);
      } else if (venue.ready?.() ?? true) venue.step(rng.int(1, 3));
      // Part of the schedule: how long the pipeline runs before the next operation (faults pile up or not).
      const pause = rng.next();
      if (pause < 0.1) await converge(`after op ${op}`);
      else await delay(pause < 0.6 ? 0 : rng.int(1, 40));
      checkAll(); // a book can become usable without an event of its own (its stream speaking again after a silence)
    }
    op = o.ops;
    while (o.endNotBeforeMs !== undefined && Date.now() < o.endNotBeforeMs) {
      overBudget();
      if (venue.ready?.() ?? true) venue.step(1);
      await delay(50);
      checkAll();
    }
    await converge("end of the schedule");
    for (let i = 0; i < 5; i++) {
      venue.step(1);
      await converge(`end, message ${i}`);
    }
    checkAll();
    for (const t of venue.topics) {
      const b = sub.books.get(t.id);
      if (b) finalExponents.set(t.id, [b.instrument.priceExp, b.instrument.qtyExp]);
    }
    for (const t of venue.topics) if (sub.books.get(t.id)?.state !== BookState.LIVE) violations.push(`seed ${o.seed}: ${t.label} not LIVE at the end`);
    stats = feeder.stats();
    applyErrors = await feeder.applyErrors();
  } catch (err) {
    // What each side holds, to tell a stuck publisher from a stuck subscriber.
    const published = await feeder.books().catch(() => []);
    const books = venue.topics.map((t) => {
      const b = sub.books.get(t.id);
      const f = published.find((x) => x.instrumentId === t.id);
      const exps = venue.exponentsNow?.(t.id);
      const units = b && exps ? ` exps ${b.instrument.priceExp}/${b.instrument.qtyExp} (venue ${exps[0]}/${exps[1]})` : "";
      const sub_ = b ? `usable ${b.usable} valid ${b.valid} state ${b.state}/${b.reason} stale ${b.stale} seq ${b.venueSeq}${units}` : "none";
      return `${t.label}: venue seq ${t.now().seq}; publisher ${f ? `state ${f.state}/${f.reason} seq ${f.venueSeq}` : "none"}; subscriber ${sub_}`;
    });
    throw new Error(`${(err as Error).message}\nseed ${o.seed}, schedule: ${schedule.join(" ")}\n${books.join("\n")}\n${await feeder.describe()}${natsPath ? `\n${natsPath.describe()}` : ""}\nviolations: ${violations.slice(0, 5).join("; ")}`);
  } finally {
    await feeder.stop().catch(() => undefined);
    await natsPath?.close();
    addTotals();
    await sub.stop();
    relay?.close();
    retxProxy?.close();
    sender.close();
  }
  const retransmitAnsweredBySource = retxProxy?.answeredBySource ?? {};
  return { seed: o.seed, schedule, faultsInjected, usableChecks, notUsableSeen, violations, subscriberCounters: sub.counters, feederStats: stats, applyErrors, retransmitAnswers: retxProxy?.applied ?? {}, retransmitTotals, finalExponents, retransmitAnsweredBySource };
}

/** One line per run (CHAOS_VERBOSE=1): the faults injected and what the subscriber saw. */
export function describeRun(r: ChaosResult): string {
  const c = r.subscriberCounters;
  return JSON.stringify({ seed: r.seed, faults: r.faultsInjected, usableChecks: r.usableChecks, notUsableSeen: r.notUsableSeen, gaps: c.gaps, rejected: c.errors, duplicates: c.duplicates, superseded: c.superseded, repairs: c.repairs });
}

/** Where two books first differ, for a violation's message. */
function firstDifference(seen: Levels, want: Levels): string {
  for (const side of ["bids", "asks"] as const) {
    const a = seen[side];
    const b = want[side];
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
      if (a[i]?.[0] !== b[i]?.[0] || a[i]?.[1] !== b[i]?.[1]) return `${side}[${i}] shown ${JSON.stringify(a[i])}, venue ${JSON.stringify(b[i])} (${a.length} vs ${b.length} levels)`;
    }
  }
  return "same levels";
}
