/**
 * The body of `GET /books/{venue}/{market}/{symbol}` for a deep book, formatted LEVELS_PER_CHUNK levels at a time,
 * one chunk per event-loop turn across every such response in progress, and only as fast as the client reads.
 * Why: the HTTP server shares its thread with the venue connections and the publisher. Formatting a 10^5-level
 * book in one piece took 150–300 ms (JSON: 4.6 MB), and each concurrent request added as much again, all of it
 * a stall of every other book's publishing; a client that did not read held the whole body in memory. Now a turn
 * formats at most one chunk (~1–2 ms), whatever the number of requests, and a client that stops reading stops the
 * formatting (the stream is pulled as the socket drains) and holds only the copied levels (16 B per level).
 * The levels were copied at once (book-json.ts levelsOf), so the body is one consistent state of the book.
 *
 * Every other response body that takes formatting (one book of at most LEVELS_PER_CHUNK levels, /books, /status,
 * /readyz, /metrics; many books: a chunk of them per turn, list-stream.ts) is collected and formatted in a turn of
 * its own from the same queue (formattingTurn): before,
 * concurrent requests that arrived together were all formatted in the turn they arrived in (16 requests of a
 * 1,000-level book in flight: 16 answers in one turn), however small each was.
 *
 * The copies held by streamed bodies in progress are bounded (MAX_HELD_LEVEL_BYTES): each copy stays in memory
 * until its client has read the body or gone (a client that stops reading holds it until the idle timeout, http.idle_timeout_s), so
 * without a bound every concurrent request of a deep book added its copy (100 clients of a 10^5-level book: 320 MB).
 * @module
 */
import { turnQueue } from "./turn-queue.ts";
import { formatFixed } from "../core/fixed.ts";
import type { BookLevels } from "./book-json.ts";
import { pack } from "msgpackr/pack"; // not the root: see src/record/capture.ts

/** Levels formatted per chunk; a book with at most this many levels (both sides) is answered in one piece. */
export const LEVELS_PER_CHUNK = 2000;

/** Bytes of copied levels all streamed bodies in progress may hold together (16 B a level: price and quantity). */
export const MAX_HELD_LEVEL_BYTES = 64 * 2 ** 20;
let heldLevelBytes = 0;

/** What the copied levels of `book` hold in memory. */
export function levelBytes(book: BookLevels): number {
  return book.bidPx.byteLength + book.bidQty.byteLength + book.askPx.byteLength + book.askQty.byteLength;
}

/** Bytes held by streamed bodies in progress, deep books' levels and many books' summaries (tests). */
export function heldLevelBytesNow(): number {
  return heldLevelBytes;
}

/**
 * Whether a streamed body of `bytes` fits beside the ones in progress. One is always admitted when none is in
 * progress, so a book larger than the bound can still be read, one client at a time.
 */
export function streamAdmits(bytes: number): boolean {
  return heldLevelBytes === 0 || heldLevelBytes + bytes <= MAX_HELD_LEVEL_BYTES;
}

/**
 * Counts `bytes` of copies (a deep book's levels; a /books or /status body's collected summaries: list-stream.ts,
 * or those it expects while they are collected: http-server.ts admitEveryBook) against MAX_HELD_LEVEL_BYTES until the returned release is called; a second call releases nothing.
 */
export function holdCopies(bytes: number): () => void {
  heldLevelBytes += bytes;
  return () => {
    heldLevelBytes -= bytes;
    bytes = 0;
  };
}

/** The formatting turns of every response in progress on this thread, one per event-loop turn (turn-queue.ts). */
const formattingQueue = turnQueue();

/**
 * Resolves in a later event-loop turn of its own (the venue connections and the publisher run in between); what
 * the caller does synchronously after it is the only HTTP formatting of that turn. A `healthCheck` turn goes ahead
 * of every chunk and answer waiting (one turn, not one per deep body and request in progress), but not two in a
 * row while they wait. Every /readyz arriving before a check's turn shares it (http-server.ts sharedReadiness).
 */
export function formattingTurn(healthCheck = false): Promise<void> {
  return formattingQueue(healthCheck);
}

/**
 * A body formatted one chunk per formatting turn, as the client reads: `formatChunk` enqueues the next chunk and says
 * whether it was the last. `release` is called once, when the body is read to the end, cancelled (the client went
 * away or timed out), fails (`onError` is told, the only report of it: the stream errors without a reason and the
 * client's connection is cut, the status was sent), or `signal` aborts, whichever comes first.
 */
export function turnStream(
  formatChunk: (controller: ReadableStreamDefaultController<Uint8Array>) => boolean,
  release: () => void,
  signal?: AbortSignal,
  onError?: (err: unknown) => void,
): ReadableStream<Uint8Array> {
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    release();
  };
  signal?.addEventListener("abort", end, { once: true });
  let cancelled = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      await formattingTurn();
      if (cancelled) return; // the client went away while this chunk waited for its turn
      try {
        if (formatChunk(controller)) {
          controller.close();
          end();
        }
      } catch (err) {
        // Without this the copy stayed counted for ever (an errored stream is not cancelled).
        cancelled = true;
        end();
        if (onError === undefined) controller.error(err);
        else {
          onError(err);
          // Reported: errored without a reason, which Bun cuts the connection for all the same; given the error, it
          // also printed it to stderr in its own format, beside the log line (test/app/book-stream-failure.test.ts).
          controller.error();
        }
      }
    },
    cancel() {
      cancelled = true;
      end();
    },
  });
}

const encoder = new TextEncoder();

/**
 * The body as JSON (identical to JSON.stringify of detailOf(book)) or MessagePack (decoding to the same value),
 * one chunk per formatting turn (turnStream). Its copied levels count against MAX_HELD_LEVEL_BYTES (check
 * streamAdmits first) until the body is read to the end, cancelled, fails or `signal` aborts.
 */
export function bookBodyStream(book: BookLevels, msgpack: boolean, signal?: AbortSignal, onError?: (err: unknown) => void): ReadableStream<Uint8Array> {
  const { bidPx, bidQty, askPx, askQty, ...head } = book;
  const sides = [
    { key: "bids", px: bidPx, qty: bidQty },
    { key: "asks", px: askPx, qty: askQty },
  ];
  let side = -1; // -1: the head is next
  let rank = 0;
  return turnStream(formatChunk, holdCopies(levelBytes(book)), signal, onError);

  function formatChunk(controller: ReadableStreamDefaultController<Uint8Array>): boolean {
    const out = msgpack ? new MsgpackChunk() : new JsonChunk();
    if (side < 0) {
      out.head(head, Object.keys(head).length + 2);
      side = 0;
      out.sideStart(sides[0]!.key, bidPx.length);
    }
    let budget = LEVELS_PER_CHUNK;
    while (side < 2 && budget > 0) {
      const s = sides[side]!;
      const n = Math.min(budget, s.px.length - rank);
      for (let r = rank; r < rank + n; r++) out.level(r === 0, formatFixed(s.px[r]!, book.priceExp), formatFixed(s.qty[r]!, book.qtyExp));
      rank += n;
      budget -= n;
      if (rank === s.px.length) {
        out.sideEnd(side === 1);
        side++;
        rank = 0;
        if (side < 2) out.sideStart(sides[side]!.key, sides[side]!.px.length);
      }
    }
    controller.enqueue(out.take());
    return side === 2;
  }
}

class JsonChunk {
  private text = "";
  head(head: object, _entries: number): void {
    this.text += JSON.stringify(head).slice(0, -1);
  }
  sideStart(key: string, _count: number): void {
    this.text += `,"${key}":[`;
  }
  level(first: boolean, price: string, qty: string): void {
    this.text += first ? `["${price}","${qty}"]` : `,["${price}","${qty}"]`;
  }
  sideEnd(last: boolean): void {
    this.text += last ? "]}" : "]";
  }
  take(): Uint8Array {
    return encoder.encode(this.text);
  }
}

/**
 * MessagePack written by hand in parts (a map or array32 header of our own, msgpackr's encoding of the rest), joined
 * into one chunk by take(). The deep book's chunks and the list documents' (list-stream.ts MsgpackWriter).
 */
export class MsgpackParts {
  private parts: Uint8Array[] = [];
  private length = 0;
  protected push(bytes: Uint8Array): void {
    this.parts.push(bytes);
    this.length += bytes.length;
  }
  protected mapHeader(entries: number): void {
    this.push(entries < 16 ? Uint8Array.of(0x80 | entries) : Uint8Array.of(0xde, entries >> 8, entries & 0xff));
  }
  protected array32Header(n: number): void {
    this.push(Uint8Array.of(0xdd, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff));
  }
  /** What was written since the last take(), as one chunk. */
  take(): Uint8Array {
    const bytes = new Uint8Array(this.length);
    let o = 0;
    for (const p of this.parts) {
      bytes.set(p, o);
      o += p.length;
    }
    this.parts = [];
    this.length = 0;
    return bytes;
  }
}

/** The deep book in MessagePack: a map of the head fields, then two arrays of [price, qty]. */
class MsgpackChunk extends MsgpackParts {
  head(head: Record<string, unknown>, entries: number): void {
    this.mapHeader(entries);
    for (const [k, v] of Object.entries(head)) {
      this.push(pack(k));
      this.push(pack(v));
    }
  }
  sideStart(key: string, count: number): void {
    this.push(pack(key));
    this.array32Header(count);
  }
  level(_first: boolean, price: string, qty: string): void {
    const out = new Uint8Array(3 + 2 + price.length + qty.length); // fixarray(2), two str8 of ASCII digits
    let o = 0;
    out[o++] = 0x92;
    for (const s of [price, qty]) {
      out[o++] = 0xd9;
      out[o++] = s.length;
      for (let c = 0; c < s.length; c++) out[o++] = s.charCodeAt(c);
    }
    this.push(out.subarray(0, o));
  }
  sideEnd(_last: boolean): void {}
}
