/**
 * The types of a chaos run (test/support/chaos.ts): what a venue gives it (topics, faults, a publisher), where the
 * publisher sends, the run's options and what it returns.
 * @module
 */
import type { Feeder } from "../../src/app/feeder.ts";
import type { FeederConfig } from "../../src/config/types.ts";
import type { Rng } from "../../src/sim/rng.ts";
import type { FeedSubscriber } from "../../src/subscriber/index.ts";
import type { ChaosNatsServer } from "./chaos-nats.ts";
import type { FeederStats } from "./chaos-publishers.ts";

/**
 * A venue's book as decimal strings (price → qty), as the simulators give it. Its Maps are never changed once given
 * (a new state is new Maps): a run converts each state to integers once, keyed by its Maps (chaos.ts levelsOfSim).
 */
export interface SimSides {
  bids: Map<string, string>;
  asks: Map<string, string>;
}

export interface ChaosTopic {
  /** The instrument id the feed carries it under. */
  id: number;
  label: string;
  /** Every book the venue had at this venue sequence (several after a reset; empty when it never had it). */
  booksAt(seq: number): SimSides[];
  /** The venue's book now and its sequence (what a book in sync holds). */
  now(): SimSides & { seq: number };
}

export interface ChaosFault {
  name: string;
  /** Relative frequency in the schedule (default 1). */
  weight?: number;
  inject(rng: Rng, target: ChaosTopic): void | Promise<void>;
}

export interface ChaosVenue {
  topics: ChaosTopic[];
  /** n normal messages per subscribed book. */
  step(n: number): void;
  faults: ChaosFault[];
  /** A Feeder publishing to the destination (called again for each publisher restart). */
  makeFeeder(dest: ChaosDestination, dropFilter: (channelId: number, seqNum: number, bytes: Uint8Array) => boolean): Feeder;
  /** The same publisher as a config (runs with `workers`: the workers get the config alone, no test hooks). */
  feederConfig?(dest: ChaosDestination, workers: number): FeederConfig;
  /** False while the venue cannot converge whatever the feeder does (a stalled server). */
  ready?(): boolean;
  /** A price or size text of the simulator → mantissa at exp (default parseFixed: plain decimals). */
  parse?(text: string, exp: number): number;
  /** The venue's exponents now ([priceExp, qtyExp]); when given, convergence also waits for books in those units. */
  exponentsNow?(id: number): [number, number];
}

/**
 * Where the Feeder publishes; with `retransmitListen`, its publish.retransmit.listen ("127.0.0.1:PORT"; with
 * workers, worker i listens on PORT + i + 1).
 */
export interface ChaosDestination {
  group: string;
  port: number;
  retransmitListen?: string;
  /** publish.auth_key_file: sign every datagram (HMAC); the subscriber gets the same key. */
  authKeyFile?: string;
  /** `shard = "k/n"` and publish.source_id of one shard (runs with `shards`). */
  shard?: { spec: string; sourceId: number };
}

export interface ChaosOptions {
  seed: number;
  /** Schedule length (faults + bursts of traffic). */
  ops: number;
  group: string;
  port: number;
  /** Share of operations that are faults (default 0.25). */
  faultRate?: number;
  /** Relative frequencies by fault name, over the faults' own (e.g. more datagram loss where retransmission is tested). */
  faultWeights?: Record<string, number>;
  /**
   * The publisher keeps a retransmit ring and the subscriber asks it for lost datagrams (publish.retransmit and the
   * subscriber's `retransmit`), so losses are repaired by retransmission first and by the refresh otherwise.
   */
  retransmit?: boolean;
  /** Longest wait for convergence (default 30 s). */
  settleTimeoutMs?: number;
  /**
   * The whole run's time (default 100 s: under the tests' 120 s): past it the run stops with its seed, schedule and
   * both sides' book states, and closes its publisher and subscriber, instead of being cut off by the test's timeout
   * with nothing said and left running into the next test's destination (a very busy machine).
   */
  timeBudgetMs?: number;
  /**
   * The schedule's end waits (the venue still stepping) until this wall-clock time, e.g. the last announced instrument
   * change's effTime, so the final convergence covers it (with venue.exponentsNow) instead of racing it.
   */
  endNotBeforeMs?: number;
  /**
   * Run the pipeline on this many Bun Workers under a Supervisor (venue.feederConfig), publishing to port + 1
   * through a relay that applies the datagram faults; adds the fault workerKill (a worker dies, the supervisor
   * restarts it while the others keep publishing).
   */
  workers?: number;
  /**
   * With `workers`: this many shards (`shard = "k/n"`), each a Supervisor with `workers` workers and its own
   * publish.source_id range (k × (workers + 1)) and request servers, as feeder processes sharing one group; adds
   * the fault shardRestart (one shard restarts while the others keep publishing). With retransmission the subscriber
   * asks every source through one port base, each source's own server answering.
   */
  shards?: number;
  /**
   * Retransmission (implies `retransmit`) through a proxy that misbehaves (test/support/chaos-retransmit.ts): the
   * fault retransmitAnswer loses a few datagrams and gives the answer to their request one of ANSWER_FAULTS.
   */
  retransmitFaults?: boolean;
  /** Every datagram signed with an HMAC key (publish.auth_key_file; the subscriber's authKeyFile). */
  auth?: boolean;
  /**
   * Check a consumer of the NATS bridge's JetStream stream instead of a multicast subscriber (chaos-nats.ts): a
   * ForwardBridge republishes the group into this server; faults bridgeRestart and natsRestart.
   */
  nats?: ChaosNatsServer;
}

export interface ChaosResult {
  seed: number;
  /** "op:fault:target" for every fault injected, in order. */
  schedule: string[];
  faultsInjected: Record<string, number>;
  /** Usable books compared with the venue's. */
  usableChecks: number;
  /** Times a book was seen not LIVE or not usable (the faults had visible effects). */
  notUsableSeen: number;
  violations: string[];
  subscriberCounters: FeedSubscriber["counters"];
  /** The in-process Feeder's stats (undefined with workers). */
  feederStats: FeederStats | undefined;
  /** Exceptions the publisher contained while applying messages (either form). */
  applyErrors: number;
  /** retransmitFaults: the answers the proxy mangled, by fault. */
  retransmitAnswers: Record<string, number>;
  /** The exponents of every book at the end (instrument id → [priceExp, qtyExp]). */
  finalExponents: Map<number, [number, number]>;
  /** Retransmission counters summed over every subscriber of the run (subscriberCounters: the last one only). */
  retransmitTotals: { requests: number; recovered: number; fallbacks: number; rejected: number };
  /** With workers and retransmission: data datagrams each source's server answered with, by source id. */
  retransmitAnsweredBySource: Record<number, number>;
}
