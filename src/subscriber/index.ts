/**
 * Subscriber library of the feeder multicast feed, for other TypeScript programs:
 * `import { FeedSubscriber } from "feeder/subscriber"`. See docs/wire-protocol.md.
 * @module
 */
export {
  FeedSubscriber,
  MAX_FED_DATAGRAMS,
  type FeedSubscriberOptions,
  type FeedSubscriberEvents,
  type GroupSpec,
  type UpdateEvent,
  type UpdateKind,
  type GapEvent,
  type SessionEvent,
  type StatusEvent,
  type StaleEvent,
  type RepairEvent,
  type SupersedeEvent,
  type EvictEvent,
  type ExponentEvent,
  type SubscriberErrorEvent,
  type SubscriberCounters,
  type RetransmitOptions,
  type StreamInfo,
} from "./feed-subscriber.ts";
export { SubscriberBook, UNKNOWN_NAME } from "./subscriber-book.ts";
export { formatDecimal } from "./format.ts";
export { decodeDatagram, type DecodedPacket, type DecodedMessage, type DecodeResult } from "../wire/decode-objects.ts";
// The bits of a decoded snapshot's cutFlags (docs/wire-protocol.md §4.4).
export { SNAP_CUT_MARKED, SNAP_CUT_BIDS, SNAP_CUT_ASKS } from "../wire/layout.ts";
export { WireDecodeError, DecodeErrorCode, DECODE_ERROR_NAMES } from "../wire/decoder.ts";
export { BookState, BOOK_STATE_NAMES, StatusReason, STATUS_REASON_NAMES, type Instrument } from "../core/types.ts";
export type { BookView } from "../core/book-view.ts";
export type { ReusableSha256 } from "../wire/auth.ts";
export { attachNats, NatsFeedReader, type NatsReadOptions, type NatsReaderEvent, type NatsReaderCounters } from "./nats-source.ts";
export type { BridgeEvent } from "./nats-envelope.ts";
export type { NatsCredentials, NatsTls } from "./nats-auth.ts";
