/**
 * The forward bridge's PUB frames (src/bridge/pub-frames.ts), written in place into a range of the payload arena
 * since 2026-12-06 (before: into a buffer of their own, then copied into a range). Against a simple model, random
 * datagrams' frames (subjects of 1–300 bytes, envelopes of 0–2000 bytes, now and then one over a chunk), with ranges
 * taken for envelopes between them as the bridge's publish does: each command is exactly the frames' bytes
 * (`PUB <subject> <length>\r\n<envelope>\r\n`, as the client's publish writes them), across chunk ends too, and no
 * range handed over is ever written again. A range taken while frames are open would be written over: refused.
 */
import { describe, expect, test } from "vitest";
import { ARENA_CHUNK_BYTES, PayloadArena } from "../../src/bridge/payload-arena.ts";
import { PubFrames } from "../../src/bridge/pub-frames.ts";
import { rng } from "../support/mulberry32.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The model: a frame as the NATS client's publish writes it. */
function frameOf(subject: Uint8Array, env: Uint8Array): Uint8Array {
  const head = enc.encode(`PUB ${dec.decode(subject)} ${env.length}\r\n`);
  const out = new Uint8Array(head.length + env.length + 2);
  out.set(head, 0);
  out.set(env, head.length);
  out.set([13, 10], head.length + env.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

describe("PubFrames in place in the payload arena", () => {
  test("random datagrams' frames: each command the model's bytes, no range handed over written again", () => {
    for (const seed of [1, 2, 3]) {
      const random = rng(seed);
      const int = (n: number) => Math.floor(random() * n);
      const bytesOf = (n: number) => {
        const b = new Uint8Array(n);
        for (let i = 0; i < n; i++) b[i] = int(256);
        return b;
      };
      const arena = new PayloadArena();
      const frames = new PubFrames(arena);
      const handed: { range: Uint8Array; want: Uint8Array }[] = [];
      let crossed = 0;
      for (let d = 0; d < 600; d++) {
        const n = int(9);
        const parts: Uint8Array[] = [];
        let messages = 0;
        let envelopeBytes = 0;
        let firstChunk: Uint8Array | undefined; // where the datagram's first frame was written
        for (let i = 0; i < n; i++) {
          // Subjects' bytes: printable ASCII and UTF-8 (a subject never holds a space or line end: framable).
          const subject = enc.encode(Array.from({ length: 1 + int(100) }, () => (random() < 0.9 ? String.fromCharCode(0x21 + int(94)) : "é日")).join(""));
          const envLength = random() < 0.003 ? ARENA_CHUNK_BYTES + int(5000) : int(2000);
          // The envelope sits in a scratch longer than it (the bridge's signScratch): only [0, length) is framed.
          const scratch = bytesOf(envLength + int(50));
          const message = random() < 0.8;
          frames.add(subject, scratch, envLength, message);
          firstChunk ??= (arena as unknown as { chunk: Uint8Array }).chunk;
          parts.push(frameOf(subject, scratch.subarray(0, envLength)));
          if (message) messages++;
          envelopeBytes += envLength;
        }
        expect([frames.envelopes, frames.messages, frames.envelopeBytes]).toEqual([n, messages, envelopeBytes]);
        const cmd = frames.take();
        if (n === 0) expect(cmd).toBeUndefined();
        else {
          const want = concat(parts);
          expect(cmd!.length).toBe(want.length);
          expect(Buffer.from(cmd!).equals(Buffer.from(want)), `seed ${seed}, datagram ${d}`).toBe(true);
          if (cmd!.buffer !== firstChunk!.buffer) crossed++; // the frames written so far carried to a new chunk
          handed.push({ range: cmd!, want });
        }
        expect([frames.envelopes, frames.messages, frames.envelopeBytes]).toEqual([0, 0, 0]);
        // An envelope through the client's publish between datagrams: a range of its own, written whole.
        if (random() < 0.3) {
          const range = arena.take(1 + int(3000));
          range.set(bytesOf(range.length));
          handed.push({ range, want: range.slice() });
        }
      }
      expect(crossed, "a datagram's frames carried to a new chunk when one was full").toBeGreaterThan(5);
      for (const [i, h] of handed.entries()) expect(Buffer.from(h.range).equals(Buffer.from(h.want)), `seed ${seed}, range ${i} written again`).toBe(true);
    }
  });

  test("a range taken while frames are open is refused (it would be written over)", () => {
    const arena = new PayloadArena();
    const frames = new PubFrames(arena);
    frames.add(enc.encode("a.b"), new Uint8Array(10), 10, true);
    expect(() => arena.take(5)).toThrow(/payload arena: take\(\) while a range is written in place/);
    expect(frames.take()!.length).toBe("PUB a.b 10\r\n".length + 12);
    expect(arena.take(5).length).toBe(5);
  });
});
