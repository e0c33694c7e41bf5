/**
 * The forward bridge's NATS PUB frames, `PUB <subject> <length>\r\n<envelope>\r\n` (the NATS client protocol), written
 * by the bridge for all the envelopes of one datagram in place into a range of the payload arena (PayloadArena.room:
 * the client keeps it until it writes it), then handed to the client's protocol handler as one command (until
 * 2026-12-06 written into a reused buffer first, then copied into the range: every frame's bytes copied twice). The
 * client's own `publish` made per envelope an options object, the frame's header as a string and its bytes, and two argument
 * arrays (7–11 cells, docs/performance.md §19); one command per datagram makes 2–4 (its argument arrays, a microtask
 * when its buffer was empty). The bytes on the connection are the ones `publish` writes.
 * HOT PATH: no allocation but the range handed over (PayloadArena).
 * @module
 */
import { copyRange } from "../core/copy-range.ts";
import type { PayloadArena } from "./payload-arena.ts";

const P = 0x50;
const U = 0x55;
const B = 0x42;
const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;
/** A frame's bytes beside its subject and envelope: "PUB ", " ", up to 10 digits, two CRLFs. */
const FRAME_OVERHEAD_BYTES = 4 + 1 + 10 + 2 + 2;

/** The client refuses a subject that is empty or holds a space, tab or line end (nats-core's publish check). */
export function framable(subject: string): boolean {
  return subject.length > 0 && !/[ \n\r\t]/.test(subject);
}

export class PubFrames {
  /** Bytes of frames written in the arena's open range since the last take(). */
  private used = 0;
  /** Of the frames since the last take(): envelopes, those carrying a wire message, and their envelopes' bytes. */
  envelopes = 0;
  messages = 0;
  envelopeBytes = 0;

  constructor(private readonly arena: PayloadArena) {}

  /** Appends the frame of env[0, length) on `subject` (its UTF-8 bytes; framable). */
  add(subject: Uint8Array, env: Uint8Array, length: number, message: boolean): void {
    const arena = this.arena;
    const b = arena.room(this.used, this.used + FRAME_OVERHEAD_BYTES + subject.length + length);
    const start = arena.openAt;
    let at = start + this.used;
    b[at++] = P;
    b[at++] = U;
    b[at++] = B;
    b[at++] = SPACE;
    b.set(subject, at);
    at += subject.length;
    b[at++] = SPACE;
    at = writeDecimal(b, at, length);
    b[at++] = CR;
    b[at++] = LF;
    copyRange(env, b, at, 0, length);
    at += length;
    b[at++] = CR;
    b[at++] = LF;
    this.used = at - start;
    this.envelopes++;
    if (message) this.messages++;
    this.envelopeBytes += length;
  }

  /** The frames added since the last take(), their range closed (undefined: none); the counts start again. */
  take(): Uint8Array | undefined {
    const n = this.used;
    if (n === 0) return undefined;
    this.used = 0;
    this.envelopes = 0;
    this.messages = 0;
    this.envelopeBytes = 0;
    return this.arena.close(n);
  }
}

/** n (a non-negative integer below 10^10) in ASCII decimal at b[at…); the position after it. */
function writeDecimal(b: Uint8Array, at: number, n: number): number {
  let digits = 1;
  for (let v = n; v >= 10; v = Math.floor(v / 10)) digits++;
  let i = at + digits;
  for (let v = n; i > at; v = Math.floor(v / 10)) b[--i] = 0x30 + (v % 10);
  return at + digits;
}
