// HOT PATH: no allocation (CoinbaseConnection.onFrame → CoinbaseAdapter.onL2)
/**
 * One Coinbase WebSocket connection: the common connection state (../common/connection.ts) plus its product table,
 * scanner, event pool and the connection-wide sequence (`sequence_num` counts every message on the socket), and its
 * frame entry point. ../common/connection-lifecycle.ts opens, closes and watches it.
 * @module
 */
import { turnReceiptUs } from "../../core/clock.ts";
import type { MarketName } from "../../core/types.ts";
import { frameText, handlerThrew, VenueConnection, type TopicState } from "../common/connection.ts";
import type { CoinbaseAdapter } from "./adapter.ts";
import { CB_CONTROL, parseSlowFrame, type SlowFrame } from "./parse-json.ts";
import { ProductTable } from "./product-table.ts";
import { CB_HEARTBEAT, CB_L2, CoinbaseScanner, EventPool } from "./scanner.ts";

export type CoinbaseTopic = TopicState<CoinbaseConnection>;

/** Frames remembered per socket to tell a repeat from a restarted numbering (a power of two: `seq & TAKEN_MASK`). */
export const TAKEN_RING = 256;
export const TAKEN_MASK = TAKEN_RING - 1;

export { HEARTBEATS_ACK } from "./protocol.ts";

/** Heartbeat times remembered per socket (heardHeartbeat): 16 s of them at one a second. */
const HEARTBEAT_RING = 16;

export class CoinbaseConnection extends VenueConnection {
  readonly table = new ProductTable();
  readonly scanner = new CoinbaseScanner();
  readonly pool = new EventPool();
  private readonly slow: SlowFrame = { seq: -1, tsUs: 0, tsPastRange: false, tsUnreadable: false, heartbeatCounter: 0, msg: null };
  /** The last sequence_num of this socket; -1 = nothing yet (a new socket starts its own sequence). */
  lastSeq = -1;
  /** The last heartbeat_counter of this socket; -1 = none yet. */
  lastHeartbeat = -1;
  /**
   * The adapter's clock (ms) when this socket's last HEARTBEAT_RING heartbeats were taken in sequence, at
   * `heartbeatsTaken % HEARTBEAT_RING`; 0 = none (adapter.ts quiet asks heardHeartbeat).
   */
  readonly heartbeatAtMs = new Float64Array(HEARTBEAT_RING);
  heartbeatsTaken = 0;
  /**
   * The last TAKEN_RING frames taken on this socket, at sequence_num % TAKEN_RING: their number, envelope time (µs)
   * and length. A frame numbered at or below the last is a repeat only if it is the frame taken with that number
   * (adapter.ts sequenceOk); typed arrays, so recording one is three stores.
   */
  readonly takenSeq = new Float64Array(TAKEN_RING).fill(-1);
  readonly takenTsUs = new Float64Array(TAKEN_RING);
  readonly takenLen = new Int32Array(TAKEN_RING);
  /**
   * Replay: the products not on this connection (left out by the replay's config) whose snapshot event came on its
   * current socket (parse-json.ts leftOut): while its requests are not known, their updates are a left-out product's,
   * not garbled. Kept across a capture gap, emptied at the next socket (replaySocketBegins). Cold.
   */
  readonly replaySnapshotted = new Set<string>();
  /**
   * Replay: those of the frame being read (parseSlowFrame), added to replaySnapshotted once the frame is handled: a
   * frame numbered 0 again begins the next socket (adapter.ts onReplayedSocket, which empties the set), and a snapshot
   * in it is that socket's (until s-rd26a added before, so forgotten with the old socket's). Cold.
   */
  private readonly replayNoted: string[] = [];
  /** The length of the frame being handled (onFrameAt), for the ring. */
  frameLen = 0;
  /** `messages` when a frame was last taken (take): equal while the frame being handled has been (frameTaken). */
  private takenAtMessage = -1;
  /**
   * Request ids (or HEARTBEATS_ACK) in the order their messages were queued: a subscriptions event carries no
   * request id, and Coinbase answers messages in order, so each event answers the oldest.
   */
  readonly expectedAcks: string[] = [];
  /**
   * The heartbeats subscribe refused for a passing reason goes again at this time of the adapter's clock (0 = none
   * waiting), if the socket is still of generation heartbeatsGen; heartbeatsWaitMs bounds it after a clock step back.
   */
  heartbeatsDueMs = 0;
  heartbeatsWaitMs = 0;
  heartbeatsGen = -1;
  // Counters (hot increments, cold reads).
  duplicates = 0;
  gaps = 0;
  heartbeats = 0;
  heartbeatCounterBreaks = 0;
  errorFrames = 0;

  constructor(
    readonly adapter: CoinbaseAdapter,
    id: number,
    market: MarketName,
    url: string,
  ) {
    super(id, market, url);
  }

  /** HOT PATH: the frame being handled is taken with number `seq`, stamped `tsUs`. */
  take(seq: number, tsUs: number): void {
    this.lastSeq = seq;
    const i = seq & TAKEN_MASK;
    this.takenSeq[i] = seq;
    this.takenTsUs[i] = tsUs;
    this.takenLen[i] = this.frameLen;
    this.takenAtMessage = this.messages;
  }

  /**
   * Cold: the frame being handled carries no sequence_num (a control frame without one, as an error frame): no number
   * of the sequence to lose, so frameTaken holds for it (until s-rd24b a throw while handling one naming a product
   * resynced the whole connection as if the sequence had lost a number).
   */
  takeNone(): void {
    this.takenAtMessage = this.messages;
  }

  /** A heartbeat taken in sequence at `nowMs` (adapter clock). */
  heartbeatTaken(nowMs: number): void {
    this.heartbeatAtMs[this.heartbeatsTaken++ % HEARTBEAT_RING] = nowMs;
  }

  /** Cold: whether one of this socket's last HEARTBEAT_RING heartbeats was taken in (fromMs, toMs]. */
  heardHeartbeat(fromMs: number, toMs: number): boolean {
    for (let i = 0; i < HEARTBEAT_RING; i++) {
      const at = this.heartbeatAtMs[i]!;
      if (at > fromMs && at <= toMs) return true;
    }
    return false;
  }

  /** Cold: whether the frame being handled (the last counted in messages) had its sequence_num taken (take, takeNone). */
  frameTaken(): boolean {
    return this.takenAtMessage === this.messages;
  }

  /**
   * Whether the frame being handled, numbered `seq` (taken before) and stamped `tsUs`, is the frame taken with that
   * number: the same envelope time and length. An unknown time (0) or a number out of the ring proves nothing.
   */
  isRepeat(seq: number, tsUs: number): boolean {
    const i = seq & TAKEN_MASK;
    return tsUs > 0 && this.takenSeq[i] === seq && this.takenTsUs[i] === tsUs && this.takenLen[i] === this.frameLen;
  }

  /** Replay: the recording's next socket begins (ws:open, ws:close, sequence_num 0 again): its own subscribes, its own snapshots. */
  replaySocketBegins(): void {
    this.resetTaken();
    this.heartbeatAtMs.fill(0);
    this.replaySnapshotted.clear();
  }

  /** A new sequence from here (a new socket, or replay's next one): nothing taken yet. */
  resetTaken(): void {
    this.lastSeq = -1;
    this.takenSeq.fill(-1);
  }


  /**
   * A new socket: its own sequence and acks. Frames of this socket go to onFrame; once it is open the adapter
   * subscribes heartbeats (the lifecycle's socketInUse hook: adapter.ts onOpen), then the lifecycle level2.
   */
  bindMessages(ws: WebSocket, gen: number): void {
    this.lastSeq = -1;
    this.lastHeartbeat = -1;
    this.heartbeatAtMs.fill(0);
    this.takenSeq.fill(-1);
    this.expectedAcks.length = 0;
    ws.onmessage = (ev: MessageEvent) => {
      if (gen !== this.generation) return;
      const data: unknown = ev.data;
      // Free unless it throws; an exception here would end the process (common/connection.ts frameFailed); so is a
      // binary frame that is no UTF-8 (frameText).
      try {
        this.onFrame(frameText(data));
      } catch (err) {
        handlerThrew(this, data, err, this.adapter);
      }
    };
  }

  // HOT PATH: one call per WebSocket frame. Frames of one socket read share its receipt time (core/clock.ts).
  onFrame(data: string): void {
    this.onFrameAt(data, turnReceiptUs());
  }

  /** A frame received at recvUs (now, or the recorded time when replaying a capture). HOT PATH. */
  onFrameAt(data: string, recvUs: number): void {
    this.messages++; // first: a frame whose tap throws was received, and not taken (frameTaken)
    const tap = this.adapter.rawFrameTap;
    if (tap !== undefined) tap(this.market, this.name, data, recvUs);
    this.bytes += data.length;
    this.frameLen = data.length;
    const r = this.scanner.scan(data, this.table, this.pool);
    if (r === CB_L2 || r === CB_HEARTBEAT) {
      if (this.scanner.tsPastRange) this.adapter.onTimestampPastRange(this, data);
      else if (this.scanner.tsUnreadable) this.adapter.onTimestampUnreadable(this, data);
    }
    if (r === CB_L2) {
      this.adapter.onL2(this, this.scanner.seq, this.scanner.tsUs, recvUs);
      return;
    }
    if (r === CB_HEARTBEAT) {
      this.adapter.onHeartbeat(this, this.scanner.seq, this.scanner.heartbeatCounter, this.scanner.tsUs);
      return;
    }
    this.onSlowFrame(data, recvUs);
  }

  /** Everything the scanner did not take: control frames, other layouts, errors. Cold. */
  private onSlowFrame(data: string, recvUs: number): void {
    const out = this.slow;
    const noted = this.replayNoted;
    noted.length = 0;
    const r = parseSlowFrame(data, this.table, this.pool, out, this.adapter.replaying, this.replayAsked, this.replaySnapshotted, noted);
    try {
      if (out.tsPastRange) this.adapter.onTimestampPastRange(this, data);
      else if (out.tsUnreadable) this.adapter.onTimestampUnreadable(this, data);
      if (r === CB_L2) {
        this.fallbacks++;
        this.adapter.onL2(this, out.seq, out.tsUs, recvUs);
      } else if (r === CB_HEARTBEAT) {
        this.adapter.onHeartbeat(this, out.seq, out.heartbeatCounter, out.tsUs, data);
      } else if (r === CB_CONTROL) {
        this.adapter.onControl(this, out.seq, out.msg, out.tsUs);
      } else {
        this.adapter.onParseError(this, r, data);
      }
    } finally {
      for (const product of noted) this.replaySnapshotted.add(product);
      noted.length = 0;
    }
  }
}
