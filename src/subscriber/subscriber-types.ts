/**
 * The subscriber's public shapes: options, the events it emits and their payloads, counters and per-stream
 * sequencing state. Re-exported by feed-subscriber.ts and index.ts.
 * @module
 */
import type { BookState, Instrument, StatusReason } from "../core/types.ts";
import type { WireDecodeError } from "../wire/decoder.ts";
import type { SubscriberBook } from "./subscriber-book.ts";

export interface GroupSpec {
  group: string;
  port: number;
  /** Local interface address to join on. Defaults to "127.0.0.1". */
  iface?: string;
}

export interface FeedSubscriberOptions {
  groups: GroupSpec[];
  /** SO_RCVBUF request (the kernel doubles it). Defaults to 8 MiB. */
  recvBufferBytes?: number;
  /** A (channel, source) silent this long is reported stale and its books invalid. Defaults to 3000; 0 disables. */
  staleAfterMs?: number;
  /** Largest datagram accepted; must be ≥ the publisher's maxDatagramBytes. Defaults to 1400. */
  maxDatagramBytes?: number;
}

export type UpdateKind = "delta" | "snapshot" | "status";

/** Passed to 'update' listeners. The object is reused: copy what you keep beyond the callback. */
export interface UpdateEvent {
  kind: UpdateKind;
  instrument: Instrument;
  book: SubscriberBook;
  /** Receive time minus the packet's send time, µs (cross-host: includes clock offset). */
  latencyUs: number;
  sendTimeUs: number;
  recvTimeUs: number;
  channelId: number;
  sourceId: number;
  /** The snapshot was a periodic refresh. */
  refresh: boolean;
}
export interface GapEvent {
  channelId: number;
  sourceId: number;
  sessionId: number;
  /** Channel sequence number expected next. */
  expected: number;
  /** Sequence number received instead. */
  got: number;
  /** Messages lost (got − expected). */
  lost: number;
  /** Books invalidated by this gap. */
  booksInvalidated: number;
}
export interface SessionEvent {
  kind: "new" | "restarted" | "ended";
  channelId: number;
  sourceId: number;
  sessionId: number;
  previousSessionId: number | undefined;
}
export interface StatusEvent {
  book: SubscriberBook;
  state: BookState;
  reason: StatusReason;
  previousState: BookState;
}
export interface StaleEvent {
  channelId: number;
  sourceId: number;
  sessionId: number;
  silentMs: number;
}
export interface SubscriberErrorEvent {
  /** A WireDecodeError for a rejected datagram (see its `code`); a plain Error for socket or listener failures. */
  error: WireDecodeError | Error;
  /** "address:port" of the sender when known. */
  from: string;
}

export interface FeedSubscriberEvents {
  update: (e: UpdateEvent) => void;
  gap: (e: GapEvent) => void;
  session: (e: SessionEvent) => void;
  status: (e: StatusEvent) => void;
  stale: (e: StaleEvent) => void;
  definition: (book: SubscriberBook) => void;
  error: (e: SubscriberErrorEvent) => void;
}

export interface SubscriberCounters {
  datagrams: number;
  bytes: number;
  heartbeats: number;
  messages: number;
  /** Datagrams rejected by the decoder. */
  errors: number;
  /** Channel gaps detected (events), and messages lost in them. */
  gaps: number;
  lostMessages: number;
  /** Datagrams or messages received twice (sequence already seen). */
  duplicates: number;
  /** Messages with a template id this subscriber does not know (skipped). */
  unknownTemplates: number;
  /** Per-instrument instrSeq jumps. */
  instrSeqJumps: number;
  /** Snapshot chunk sets abandoned (missing or out-of-order chunk). */
  snapshotsAbandoned: number;
  /** Exceptions thrown by event listeners (caught and reported as 'error'). */
  listenerErrors: number;
}

export interface StreamInfo {
  channelId: number;
  sourceId: number;
  sessionId: number;
  nextSeq: number;
  lastRecvMs: number;
  stale: boolean;
  ended: boolean;
}
