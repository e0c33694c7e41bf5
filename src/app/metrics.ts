/**
 * feeder's Prometheus metrics. Each pipeline (the process, or each worker) produces a plain, cloneable
 * MetricsSnapshot from the counters it already keeps (nothing is counted for metrics on the hot path);
 * renderMetrics turns one or several (labelled by worker) plus the process's own numbers into text.
 *
 * Conventions (docs/operations.md lists every metric): one metric per quantity, counters end in `_total`,
 * base units (`_seconds`, `_bytes`), latency as histograms, and the series of one name are disjoint (never a
 * total beside its parts), so `sum()` over any label never double-counts.
 * @module
 */
import { LatencyHistogram } from "../core/histogram.ts";
import type { RetransmitServerCounters } from "../net/retransmit-server.ts";
import type { VenueMetric } from "../venues/venue.ts";
import pkg from "../../package.json" with { type: "json" };
import { type ProcessSnapshot, writeProcessMetrics } from "./process-metrics.ts";
import { PromWriter, type CounterAdjust, type FamilyMeta, type HistogramData } from "./prometheus.ts";

/** Samples event-loop lag: how late a timer fires compared with when it was due. */
export class EventLoopLagMonitor {
  readonly histogram = new LatencyHistogram();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly intervalMs = 100) {}

  start(): void {
    if (this.timer) return; // running already (the Feeder starts it with its first venue)
    let expected = performance.now() + this.intervalMs;
    this.timer = setInterval(() => {
      const now = performance.now();
      this.histogram.observe(Math.max(0, Math.round((now - expected) * 1000)));
      expected = now + this.intervalMs;
    }, this.intervalMs);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** Latency histograms the pipeline fills on its hot path (observe() is allocation-free, buckets preallocated). */
export class PipelineLatency {
  /** Exchange matching-engine time (Bybit cts, Binance T) of a delta → local frame receipt, per venue (not snapshots: VenuePipeline.onBookUpdate). */
  readonly exchangeToReceipt = new Map<string, LatencyHistogram>();
  /** Local frame receipt → datagram handed to the kernel. */
  readonly receiptToSend = new LatencyHistogram();

  forVenue(venue: string): LatencyHistogram {
    let h = this.exchangeToReceipt.get(venue);
    if (!h) {
      h = new LatencyHistogram();
      this.exchangeToReceipt.set(venue, h);
    }
    return h;
  }
}

/** The latency histograms the status page draws (merged across workers). */
export interface LatencySnapshot {
  receiptToSend: HistogramData;
  exchangeToReceipt: Record<string, HistogramData>;
}

/** Books of one venue and market in one state. */
export interface BookCount {
  venue: string;
  market: string;
  state: string;
  count: number;
}

/** One pipeline's counters at one moment: plain data, so a worker can post it to the main thread. */
export interface MetricsSnapshot {
  labels: Record<string, string>;
  /** Every venue adapter's own samples (VenueAdapter.metrics()), by venue. */
  venues: Record<string, VenueMetric[]>;
  /** Every (venue, market) with books, once per state (zeros included, so a state that empties reads 0). */
  books: BookCount[];
  /** Configured symbols left out because their instrument could not be resolved, by venue and market. */
  unresolved: { venue: string; market: string; count: number }[];
  publisher: { datagrams: number; bytes: number; sendErrors: number; messages: number };
  /** Each destination's share of publisher.sendErrors, by its name (absent: none reported, as from an older worker). */
  destinations?: { destination: string; sendErrors: number }[] | undefined;
  /** The retransmission server's counters (publish.retransmit); absent without one. */
  retransmit?: RetransmitServerCounters | undefined;
  /** What each channel's retransmit ring holds (publish.retransmit); empty or absent without one. */
  retransmitHistory?: { channel: string; datagrams: number; messages: number }[] | undefined;
  /** Exceptions contained while applying a book message, by venue. */
  applyErrors: Record<string, number>;
  exchangeToReceipt: Record<string, HistogramData>;
  receiptToSend: HistogramData;
  eventLoopLag: HistogramData | undefined;
  /** JS heap in use by this pipeline's thread (each worker has its own heap); undefined when unreadable (EMFILE). */
  heapUsedBytes: number | undefined;
  /** This thread's moves of nowUs to the wall clock after a step of the host's clock (core/clock.ts wallClockSteps). */
  wallClockSteps?: { count: number; lastStepUs: number } | undefined;
}

/** A pipeline's book gauges (feeder_books, feeder_symbols_unresolved) under its labels: what a silent worker last showed. */
export interface BookGauges {
  labels: Record<string, string>;
  books: readonly BookCount[];
  unresolved: MetricsSnapshot["unresolved"];
}

export interface MetricsInput {
  pipelines: readonly MetricsSnapshot[];
  /** By pipeline (same order): what its worker's predecessors counted, added to its counters (the supervisor's). */
  carries?: readonly (CounterCarry | undefined)[];
  /**
   * Slots with no worker answering (exited and not back yet, hung): their counters and histograms at the values last
   * shown, so a slot's series do not vanish for the seconds a restart takes (a gap rate() reads across).
   */
  silent?: readonly CounterCarry[];
  /**
   * Those slots' book gauges as last shown: every book counted `stale` (its state is not known now, as /readyz counts
   * it), the unresolved as they were. Until s-leftops they were absent, which read as "no books".
   */
  silentBooks?: readonly BookGauges[];
  /** The process's own numbers (main thread only: one set per process). */
  process?: ProcessSnapshot;
  /** More families (the supervisor's worker gauges). */
  extra?: (w: PromWriter) => void;
}

export const VERSION: string = pkg.version;

const METRIC_NAME = /^[a-z][a-z0-9_]*$/;
const LABEL_NAME = /^[a-z][a-z0-9_]*$/;
/** Labels the app sets itself; a venue sample may not override them. */
const RESERVED_LABELS = new Set(["venue", "worker", "le", "quantile"]);
/** `feeder_venue_` names the app writes itself: a venue sample of that name would repeat its series. */
const RESERVED_VENUE_NAMES = new Set(["metrics_rejected"]);

export function renderMetrics(input: MetricsInput): string {
  const w = new PromWriter();
  w.family("feeder_build_info", "gauge", "always 1; the labels say which build runs").sample("feeder_build_info", { version: VERSION, bun_version: Bun.version }, 1);
  const rejected = new Map<string, number>();
  const venueSeries: VenueSeries = { labelSets: new Map(), seen: new Set() };
  input.pipelines.forEach((s, index) => {
    const carry = input.carries?.[index];
    w.carry = carry;
    carry?.begin();
    const base = s.labels;
    const baseKey = JSON.stringify(base); // the pipeline's own labels (its worker), in its venue series' keys
    for (const [venue, samples] of Object.entries(s.venues)) {
      rejected.set(venue, rejected.get(venue) ?? 0);
      for (const m of samples) {
        if (!writeVenueSample(w, base, baseKey, venue, m, venueSeries)) rejected.set(venue, rejected.get(venue)! + 1);
      }
    }
    writeBookGauges(w, base, s.books, s.unresolved);
    w.family("feeder_book_apply_errors_total", "counter", "exceptions contained while applying a book message (the book is resynced)");
    for (const [venue, n] of Object.entries(s.applyErrors)) w.sample("feeder_book_apply_errors_total", { ...base, venue }, n);
    w.family("feeder_datagrams_sent_total", "counter", "datagrams handed to the kernel, less those that came back (never lower than a scrape showed it)").sample("feeder_datagrams_sent_total", base, s.publisher.datagrams);
    w.family("feeder_sent_bytes_total", "counter", "payload bytes of the datagrams counted in feeder_datagrams_sent_total (one that came back taken off as the mean datagram's)").sample("feeder_sent_bytes_total", base, s.publisher.bytes);
    w.family("feeder_send_errors_total", "counter", "datagrams that did not get through: refused by the kernel, come back, or skipped while a destination's route is gone").sample("feeder_send_errors_total", base, s.publisher.sendErrors);
    if (s.destinations !== undefined && s.destinations.length !== 0) {
      w.family("feeder_destination_send_errors_total", "counter", "datagrams that did not get through, by destination (its name in publish.destinations): feeder_send_errors_total by where it failed");
      for (const d of s.destinations) w.sample("feeder_destination_send_errors_total", { ...base, destination: d.destination }, d.sendErrors);
    }
    w.family("feeder_messages_published_total", "counter", "wire messages published (deltas, snapshot chunks, statuses, definitions, heartbeats)");
    w.sample("feeder_messages_published_total", base, s.publisher.messages);
    if (s.retransmit) writeRetransmit(w, base, s.retransmit);
    if (s.retransmitHistory !== undefined && s.retransmitHistory.length !== 0) {
      w.family("feeder_retransmit_history_messages", "gauge", "messages a retransmission can still serve, by channel: from the oldest held in the ring to the newest");
      for (const h of s.retransmitHistory) w.sample("feeder_retransmit_history_messages", { ...base, channel: h.channel }, h.messages);
      w.family("feeder_retransmit_history_datagrams", "gauge", "datagrams held in the retransmit ring, by channel");
      for (const h of s.retransmitHistory) w.sample("feeder_retransmit_history_datagrams", { ...base, channel: h.channel }, h.datagrams);
    }
    w.family("feeder_exchange_to_receipt_seconds", "histogram", "exchange matching-engine time (Bybit cts, Binance T) of a delta to local frame receipt (snapshots are not measured)");
    for (const [venue, h] of Object.entries(s.exchangeToReceipt)) w.histogram("feeder_exchange_to_receipt_seconds", { ...base, venue }, h);
    w.family("feeder_receipt_to_send_seconds", "histogram", "local frame receipt to its datagram taken by the kernel, per published event; not counted: an event whose flush had the kernel take no datagram for any of its destinations (skipped while the route is gone, or refused); one whose own datagrams were dropped while others of its destination's flush were taken (a full buffer mid-flush) still is");
    w.histogram("feeder_receipt_to_send_seconds", base, s.receiptToSend);
    if (s.eventLoopLag) {
      w.family("feeder_event_loop_lag_seconds", "histogram", "event-loop lag, sampled every 100 ms").histogram("feeder_event_loop_lag_seconds", base, s.eventLoopLag);
    }
    if (s.heapUsedBytes !== undefined) w.family("feeder_js_heap_used_bytes", "gauge", "JS heap in use by the pipeline's thread").sample("feeder_js_heap_used_bytes", base, s.heapUsedBytes);
    if (s.wallClockSteps) {
      w.family("feeder_wall_clock_steps_total", "counter", "steps of the host's wall clock the published timestamps were moved to").sample("feeder_wall_clock_steps_total", base, s.wallClockSteps.count);
      w.family("feeder_wall_clock_last_step_seconds", "gauge", "the last such step: positive ahead, negative back; 0 before any").sample("feeder_wall_clock_last_step_seconds", base, s.wallClockSteps.lastStepUs / 1e6);
    }
    carry?.writeUnseen(w);
  });
  w.carry = undefined;
  for (const carry of input.silent ?? []) carry.writeLast(w);
  for (const g of input.silentBooks ?? []) writeBookGauges(w, g.labels, allStale(g.books), g.unresolved);
  w.family("feeder_venue_metrics_rejected", "gauge", "venue samples left out of this scrape for breaking the rules (a name, type, label or value not allowed, a series given twice): an adapter bug");
  for (const [venue, n] of rejected) w.sample("feeder_venue_metrics_rejected", { venue }, n);
  if (input.process) writeProcessMetrics(w, input.process);
  input.extra?.(w);
  return w.text();
}

function writeBookGauges(w: PromWriter, base: Record<string, string>, books: readonly BookCount[], unresolved: MetricsSnapshot["unresolved"]): void {
  w.family("feeder_books", "gauge", "books by venue, market and state");
  for (const b of books) w.sample("feeder_books", { ...base, venue: b.venue, market: b.market, state: b.state }, b.count);
  w.family("feeder_symbols_unresolved", "gauge", "configured symbols left out because their instrument could not be resolved");
  for (const u of unresolved) w.sample("feeder_symbols_unresolved", { ...base, venue: u.venue, market: u.market }, u.count);
}

/** The same books, each market's all counted `stale` (the other states 0, so a `live` series reads 0, not gone). */
function allStale(books: readonly BookCount[]): BookCount[] {
  const markets = new Map<string, BookCount>();
  const out: BookCount[] = [];
  for (const b of books) {
    const key = JSON.stringify([b.venue, b.market]);
    let stale = markets.get(key);
    if (stale === undefined) markets.set(key, (stale = { venue: b.venue, market: b.market, state: "stale", count: 0 }));
    stale.count += b.count;
    if (b.state !== "stale") out.push({ ...b, count: 0 });
  }
  return out.concat([...markets.values()]);
}

/**
 * The retransmission server's counters. Every request received has exactly one result, so the results are one
 * counter with a `result` label (zeros included) and no separate total; its datagrams and bytes are not in
 * feeder_datagrams_sent_total / feeder_sent_bytes_total (another socket, another quantity).
 */
function writeRetransmit(w: PromWriter, base: Record<string, string>, c: RetransmitServerCounters): void {
  const results: [string, number][] = [
    ["answered", c.answered],
    ["out_of_range", c.outOfRange],
    ["throttled", c.throttled],
    ["refused_network", c.refusedNetwork],
    ["bad_request", c.badRequests],
  ];
  w.family("feeder_retransmit_requests_total", "counter", "retransmission requests received, by result (answered; out_of_range, throttled: answered with a control packet, throttled unanswered when 4096 wait or past one reply a requester per 100 ms; refused_network, bad_request: dropped)");
  for (const [result, n] of results) w.sample("feeder_retransmit_requests_total", { ...base, result }, n);
  w.family("feeder_retransmit_throttled_replies_suppressed_total", "counter", "throttled requests sent no THROTTLED reply: at most one a requester per 100 ms (they time out)");
  w.sample("feeder_retransmit_throttled_replies_suppressed_total", base, c.throttledRepliesSuppressed);
  w.family("feeder_retransmit_failures_total", "counter", "exceptions while a retransmission request or answer was handled: that one dropped (its requester times out), the others served");
  w.sample("feeder_retransmit_failures_total", base, c.failures);
  w.family("feeder_retransmit_datagrams_total", "counter", "answer datagrams retransmitted (handed to the kernel; control replies not counted)").sample("feeder_retransmit_datagrams_total", base, c.datagrams);
  w.family("feeder_retransmit_sent_bytes_total", "counter", "bytes of the datagrams retransmitted").sample("feeder_retransmit_sent_bytes_total", base, c.bytes);
  w.family("feeder_retransmit_send_errors_total", "counter", "replies of any kind (answer datagrams, OUT_OF_RANGE, THROTTLED) the kernel refused twice or dropped on a full buffer, or that came back from a requester that has gone (lost; the requester falls back to the refresh), and answer datagrams the ring evicted before their turn or left unsent after one of their answer was lost (the requester told OUT_OF_RANGE)");
  w.sample("feeder_retransmit_send_errors_total", base, c.sendErrors);
}

/** The venue series of one scrape so far: each venue's names' label names, and every series written (name and labels). */
interface VenueSeries {
  readonly labelSets: Map<string, string>;
  readonly seen: Set<string>;
}

/**
 * One venue sample as `feeder_venue_<name>{venue, …labels}`; false (and nothing written) when it breaks the rules.
 * Besides the name, type, label and value rules: one set of label names per name of a venue (never a total beside its parts),
 * no series twice, no name the app writes itself. Before, a series an adapter gave twice, or named metrics_rejected,
 * was written as given: a scrape with a series twice, which a scraper drops or refuses.
 */
function writeVenueSample(w: PromWriter, base: Record<string, string>, baseKey: string, venue: string, m: VenueMetric, series: VenueSeries): boolean {
  // The shape and type checked too, not only typed: a worker's samples arrive structured-cloned. A "histogram" sample
  // was written as a bare line of a histogram family, which made the whole scrape malformed (a scraper refuses all of
  // it); a sample without labels, name or help text, or with a label value that is not a string, threw: /metrics 500.
  if (typeof m !== "object" || m === null || typeof m.name !== "string" || typeof m.help !== "string") return false;
  if (typeof m.labels !== "object" || m.labels === null || (m.type !== "counter" && m.type !== "gauge")) return false;
  if (!METRIC_NAME.test(m.name) || (m.type === "counter") !== m.name.endsWith("_total") || RESERVED_VENUE_NAMES.has(m.name)) return false;
  const name = `feeder_venue_${m.name}`;
  const declared = w.typeOf(name);
  if (declared !== undefined && declared !== m.type) return false;
  const keys = Object.keys(m.labels).sort();
  for (const k of keys) if (!LABEL_NAME.test(k) || RESERVED_LABELS.has(k) || typeof m.labels[k] !== "string") return false;
  if (!Number.isFinite(m.value)) return false;
  // Per venue: venues may differ (Coinbase counts sequence_gaps_total per connection, the others per venue).
  const labelSet = keys.join(",");
  const named = `${venue}\u0000${name}`;
  if ((series.labelSets.get(named) ?? labelSet) !== labelSet) return false;
  let key = `${name}\u0000${baseKey}\u0000${venue}`;
  for (const k of keys) key += `\u0000${m.labels[k]}`;
  if (series.seen.has(key)) return false;
  series.labelSets.set(named, labelSet);
  series.seen.add(key);
  w.family(name, m.type, m.help).sample(name, { ...base, venue, ...m.labels }, m.value);
  return true;
}

/**
 * Keeps one worker slot's counters (and histograms) from going down when the supervisor restarts its worker: the
 * new thread counts from 0 under the same `worker` label, so before, every counter of that worker fell back, which a
 * dashboard's sum() over workers (and any tool that does not treat a drop as a reset) read as negative traffic.
 * Each series written is remembered with the value shown; when the worker is replaced those values are carried and
 * added to what its successor counts. A series the successor has not written yet (a venue not resolved or connected
 * yet, a latency histogram with nothing observed) is written at its carried value: before, it was left out until
 * the successor wrote it, so sum() over workers dipped meanwhile (for as long as the venue stayed unreachable).
 * Cold: a few map lookups per counter series per scrape.
 */
export class CounterCarry implements CounterAdjust {
  private readonly carried = new Map<string, Shown>();
  private shown = new Map<string, Shown>();
  /** The series written in the scrape being rendered (begin() clears it). */
  private readonly written = new Set<string>();
  /** Bumped by each restart: a snapshot asked of the worker before it is not written with the new carry. */
  generation = 0;

  value(family: FamilyMeta, head: string, counted: number): number {
    const v = counted + (this.carried.get(head)?.value ?? 0);
    this.shown.set(head, { family, value: v });
    this.written.add(head);
    return v;
  }

  /** A scrape starts writing the slot's pipeline. */
  begin(): void {
    this.written.clear();
  }

  /** The pipeline is written: the carried series it did not write, at their carried values (in carried order). */
  writeUnseen(w: PromWriter): void {
    for (const [head, { family }] of this.carried) {
      if (this.written.has(head)) continue;
      const declared = w.typeOf(family.name);
      if (declared !== undefined && declared !== family.type) continue; // cannot happen with one build; never a bad family
      w.family(family.name, family.type, family.help).line(family.name, head, this.value(family, head, 0));
    }
  }

  /**
   * No worker of the slot answers this scrape: every series it last showed (or carries from earlier workers), at
   * that value. Nothing is remembered: its successor's counts still start from the carried values.
   */
  writeLast(w: PromWriter): void {
    const last = new Map(this.carried);
    for (const [head, v] of this.shown) last.set(head, v);
    for (const [head, { family, value }] of last) {
      const declared = w.typeOf(family.name);
      if (declared !== undefined && declared !== family.type) continue; // as in writeUnseen
      w.family(family.name, family.type, family.help).line(family.name, head, value);
    }
  }

  /** The slot's worker is gone: what it last showed is where its successor's counts start. */
  restarted(): void {
    for (const [head, v] of this.shown) this.carried.set(head, v);
    this.shown = new Map();
    this.generation++;
  }
}

interface Shown {
  family: FamilyMeta;
  value: number;
}

/** Copies a histogram into plain data (for postMessage). */
export function histogramData(h: LatencyHistogram): HistogramData {
  return { boundsUs: [...h.boundsUs], counts: Array.from(h.counts), count: h.count, sumUs: h.sumUs };
}

/** Adds histograms of the same bounds (workers' shares of one quantity); undefined when there is none. */
export function mergeHistograms(parts: readonly HistogramData[]): HistogramData | undefined {
  if (parts.length === 0) return undefined;
  const h = new LatencyHistogram(parts[0]!.boundsUs);
  for (const p of parts) h.merge(p);
  return histogramData(h);
}
