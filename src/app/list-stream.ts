/**
 * The bodies of `/books` and `/status` (and anything else made of long lists), collected and formatted
 * LIST_ITEMS_PER_TURN items at a time, one chunk per event-loop turn across every answer in progress
 * (book-stream.ts formattingTurn), and formatted only as fast as the client reads.
 * Why: the HTTP server shares its thread with the venue connections and the publisher (workers = 1). One /books of
 * 20,000 books was summarized and formatted in one turn (7 MB of JSON, 25–100 ms on the 2-vCPU VM): every other
 * book's publishing waited behind it. Now a turn summarizes or formats at most LIST_ITEMS_PER_TURN items (~0.3 ms
 * each way), and a client that stops reading stops the formatting (the stream is pulled as its socket drains).
 *
 * Consistency: each book's summary is taken in one piece (one consistent state of that book); books are summarized
 * LIST_ITEMS_PER_TURN per turn, so books of different chunks are as of different turns of the same collection
 * (which does not wait for the client: it spans the turns it takes, tens of them for 20,000 books). The list of
 * books and of unresolved symbols is the one of the collection's first turn.
 *
 * The collected summaries are held until the body is read, cancelled or fails, counted against the deep bodies'
 * bound (MAX_HELD_LEVEL_BYTES, SUMMARY_BYTES each): a client that stops reading holds them until http.idle_timeout_s.
 * @module
 */
import { pack } from "msgpackr/pack"; // not the root: see src/record/capture.ts
import { holdCopies, MsgpackParts, turnStream } from "./book-stream.ts";

/** Items (book summaries, readiness reasons) collected or formatted per turn; a body with no more is sent at once. */
export const LIST_ITEMS_PER_TURN = 500;

/** What one held summary (or reason) is counted as against MAX_HELD_LEVEL_BYTES: ~330 B of JSON, the object more. */
export const SUMMARY_BYTES = 1024;

/** Another event-loop turn for the caller (formattingTurn, or a health check's: formattingTurn(true)). */
export type Turn = () => Promise<void>;

/**
 * `at(0)` … `at(count - 1)`, `perTurn` per turn: `turn` is awaited before every chunk when there is more than one
 * (the first too, so a caller's work before it, another collection's last chunk, is never in the same turn).
 */
export async function collectInTurns<T>(count: number, at: (i: number) => T, turn: Turn, perTurn = LIST_ITEMS_PER_TURN): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < count; i++) {
    if (i % perTurn === 0 && count > perTurn) await turn();
    out.push(at(i));
  }
  return out;
}

/** A list in a streamed document: its items are formatted LIST_ITEMS_PER_TURN per turn, each with JSON.stringify / pack. */
export class StreamedList {
  constructor(readonly items: readonly unknown[]) {}
}

/** A top-level list, or an object whose StreamedList values are streamed (the others are formatted whole). */
export type StreamedDocument = StreamedList | Readonly<Record<string, unknown>>;

/** Items in the document's lists. */
export function listItems(doc: StreamedDocument): number {
  if (doc instanceof StreamedList) return doc.items.length;
  let n = 0;
  for (const v of Object.values(doc)) if (v instanceof StreamedList) n += v.items.length;
  return n;
}

/** The document as a plain value (StreamedLists as arrays): what a small one is sent as, in one piece. */
export function plainOf(doc: StreamedDocument): unknown {
  if (doc instanceof StreamedList) return doc.items;
  return Object.fromEntries(Object.entries(doc).map(([k, v]) => [k, v instanceof StreamedList ? v.items : v]));
}

const encoder = new TextEncoder();

/**
 * The document as JSON (identical to JSON.stringify of plainOf(doc)) or MessagePack (decoding to the same value),
 * one chunk per formatting turn as the client reads. Its items count against MAX_HELD_LEVEL_BYTES (SUMMARY_BYTES
 * each; check streamAdmits first) until it is read to the end, cancelled, fails (`onError` is told, the stream
 * errors and the connection is cut: the status was sent) or `signal` aborts.
 */
export function documentStream(doc: StreamedDocument, msgpack: boolean, signal?: AbortSignal, onError?: (err: unknown) => void): ReadableStream<Uint8Array> {
  const release = holdCopies(listItems(doc) * SUMMARY_BYTES);
  const out = msgpack ? new MsgpackWriter() : new JsonWriter();
  const chunks = formatDocument(doc, out);
  const formatChunk = (controller: ReadableStreamDefaultController<Uint8Array>): boolean => {
    const done = chunks.next().done === true;
    controller.enqueue(out.take());
    return done;
  };
  return turnStream(formatChunk, release, signal, onError);
}

/** Writes the document into `out`, pausing (yield) whenever LIST_ITEMS_PER_TURN items are in it. */
function* formatDocument(doc: StreamedDocument, out: Writer): Generator<void, void, undefined> {
  if (doc instanceof StreamedList) return yield* formatList(doc, out);
  const entries = Object.entries(doc).filter(([, v]) => v !== undefined); // as JSON.stringify leaves them out
  out.objectStart(entries.length);
  for (let e = 0; e < entries.length; e++) {
    const [key, value] = entries[e]!;
    out.key(key, e === 0);
    if (value instanceof StreamedList) yield* formatList(value, out);
    else out.value(value);
  }
  out.objectEnd();
}

function* formatList(list: StreamedList, out: Writer): Generator<void, void, undefined> {
  const { items } = list;
  out.arrayStart(items.length);
  for (let i = 0; i < items.length; i++) {
    if (out.items >= LIST_ITEMS_PER_TURN) yield;
    out.item(items[i], i === 0);
  }
  out.arrayEnd();
}

interface Writer {
  /** Items written since the last take(). */
  readonly items: number;
  objectStart(entries: number): void;
  key(key: string, first: boolean): void;
  value(value: unknown): void;
  objectEnd(): void;
  arrayStart(length: number): void;
  item(value: unknown, first: boolean): void;
  arrayEnd(): void;
  /** What was written since the last take(), as bytes. */
  take(): Uint8Array;
}

class JsonWriter implements Writer {
  private text = "";
  items = 0;
  objectStart(): void {
    this.text += "{";
  }
  key(key: string, first: boolean): void {
    this.text += `${first ? "" : ","}${JSON.stringify(key)}:`;
  }
  value(value: unknown): void {
    this.text += JSON.stringify(value);
  }
  objectEnd(): void {
    this.text += "}";
  }
  arrayStart(): void {
    this.text += "[";
  }
  item(value: unknown, first: boolean): void {
    // An item JSON.stringify leaves out of an object (undefined, a function) is null in an array, as there.
    this.text += (first ? "" : ",") + (JSON.stringify(value) ?? "null");
    this.items++;
  }
  arrayEnd(): void {
    this.text += "]";
  }
  take(): Uint8Array {
    const bytes = encoder.encode(this.text);
    this.text = "";
    this.items = 0;
    return bytes;
  }
}

/** MessagePack: msgpackr's encoding of each key, value and item, with map and array32 headers of our own. */
class MsgpackWriter extends MsgpackParts implements Writer {
  items = 0;
  objectStart(entries: number): void {
    this.mapHeader(entries);
  }
  key(key: string): void {
    this.push(pack(key));
  }
  value(value: unknown): void {
    this.push(pack(value));
  }
  objectEnd(): void {}
  arrayStart(n: number): void {
    this.array32Header(n);
  }
  item(value: unknown): void {
    this.push(pack(value));
    this.items++;
  }
  arrayEnd(): void {}
  override take(): Uint8Array {
    this.items = 0;
    return super.take();
  }
}
