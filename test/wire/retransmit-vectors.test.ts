/**
 * Retransmission vectors (docs/wire-protocol.md §11.5): the encoder reproduces the control packets and the flagged
 * datagram quoted in the spec, byte for byte; a reader with the spec's literal offsets and a bitwise CRC-32C agree.
 * `npx bun test/wire/retransmit-vectors.test.ts --print` prints the §11.5 hex blocks (only on a deliberate change).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { decodeRetxControl, encodeRetxControl, markRetransmit, RETX_KIND_OUT_OF_RANGE, RETX_KIND_REQUEST } from "../../src/wire/retransmit.ts";
import { fromHex } from "./helpers.ts";

const TEST_KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const vectorsJson: { name: string; datagrams: string[] }[] = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));

export function retxVectors(): { name: string; bytes: Uint8Array }[] {
  const base = { channelId: 2, sourceId: 0, sessionId: 0x01020304, seqNum: 1000, count: 3, firstAvailable: 0, nextSeq: 0 };
  const out = new Uint8Array(64);
  const req = out.slice(0, encodeRetxControl(out, { ...base, kind: RETX_KIND_REQUEST }));
  const reqSigned = out.slice(0, encodeRetxControl(out, { ...base, kind: RETX_KIND_REQUEST }, new DatagramAuth(TEST_KEY)));
  const oor = out.slice(0, encodeRetxControl(out, { ...base, kind: RETX_KIND_OUT_OF_RANGE, firstAvailable: 5000, nextSeq: 9000 }));
  const original = fromHex(vectorsJson.find((v) => v.name === "authenticated")!.datagrams[0]!);
  const flagged = original.slice();
  markRetransmit(flagged, flagged.length, new DatagramAuth(TEST_KEY));
  return [
    { name: "retx_request", bytes: req },
    { name: "retx_request_signed", bytes: reqSigned },
    { name: "retx_out_of_range", bytes: oor },
    { name: "retx_authenticated", bytes: flagged },
  ];
}

function hexBlock(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let o = 0; o < bytes.length; o += 16) {
    lines.push(o.toString(16).padStart(4, "0") + "  " + [...bytes.subarray(o, o + 16)].map((b) => b.toString(16).padStart(2, "0")).join(" "));
  }
  return "```hex\n" + lines.join("\n") + "\n```";
}

/** Bitwise reflected CRC, init and final XOR 0xFFFFFFFF: CRC-32C with 0x82F63B78 (control packets, wire v2), CRC-32 with 0xEDB88320 (wire v3). */
function bitwiseCrc(bytes: Uint8Array, poly: number): number {
  let crc = 0xffffffff;
  for (const b of bytes) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ poly : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const bitwiseCrc32c = (bytes: Uint8Array) => bitwiseCrc(bytes, 0x82f63b78);
const bitwiseCrc32 = (bytes: Uint8Array) => bitwiseCrc(bytes, 0xedb88320);

if (process.argv.includes("--print")) {
  for (const v of retxVectors()) console.log(`#### \`${v.name}\`\n\n${v.bytes.length} B:\n\n${hexBlock(v.bytes)}\n`);
  process.exit(0);
}

describe("retransmission vectors (docs/wire-protocol.md §11.5)", () => {
  const spec = readFileSync(new URL("../../docs/wire-protocol.md", import.meta.url), "utf8");
  const vectors = retxVectors();

  it("the spec quotes every vector byte for byte", () => {
    for (const v of vectors) {
      expect(spec).toContain("#### `" + v.name + "`");
      expect(spec).toContain(hexBlock(v.bytes));
    }
  });

  it("a reader with the spec's literal offsets and a bitwise CRC-32C agree with the encoder", () => {
    for (const v of vectors.slice(0, 3)) {
      const b = v.bytes;
      const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
      expect([dv.getUint16(0, true), b[2], dv.getUint16(4, true), dv.getUint16(6, true), dv.getUint32(8, true), dv.getUint16(14, true)]).toEqual([0x5246, 1, 2, 0, 0x01020304, b.length]);
      expect([Number(dv.getBigUint64(16, true)), dv.getUint32(24, true)]).toEqual([1000, 3]);
      const zeroed = b.slice();
      zeroed.fill(0, 28, 32);
      expect(dv.getUint32(28, true)).toBe(bitwiseCrc32c(zeroed));
      const c = decodeRetxControl(b, v.name === "retx_request_signed" ? new DatagramAuth(TEST_KEY) : undefined);
      expect(typeof c).toBe("object");
    }
    const oor = vectors[2]!.bytes;
    expect(oor[3]).toBe(2);
    expect([Number(new DataView(oor.buffer).getBigUint64(32, true)), Number(new DataView(oor.buffer).getBigUint64(40, true))]).toEqual([5000, 9000]);
  });

  it("the retransmitted datagram is the authenticated vector with flags 0x0d, a new trailer and CRC, and verifies", () => {
    const original = fromHex(vectorsJson.find((v) => v.name === "authenticated")!.datagrams[0]!);
    const flagged = vectors[3]!.bytes;
    expect(flagged[3]).toBe(0x0d);
    const diff = [...flagged.keys()].filter((i) => flagged[i] !== original[i]);
    expect(diff.every((i) => i === 3 || (i >= 44 && i < 48) || i >= flagged.length - 16)).toBe(true);
    const zeroed = flagged.slice();
    zeroed.fill(0, 44, 48);
    expect(flagged[2]).toBe(3);
    expect(new DataView(flagged.buffer).getUint32(44, true)).toBe(bitwiseCrc32(zeroed));
    expect(decodeDatagram(flagged, 1400, new DatagramAuth(TEST_KEY)).ok).toBe(true);
  });

  it("a v2 datagram (a publisher not yet upgraded, in a ring) is retransmitted with a CRC-32C, as v2 computes it", () => {
    const copy = fromHex(vectorsJson.find((v) => v.name === "v2_delta")!.datagrams[0]!);
    expect(copy[2]).toBe(2);
    markRetransmit(copy, copy.length, undefined);
    expect(copy[3]! & 0x04).toBe(0x04);
    const zeroed = copy.slice();
    zeroed.fill(0, 44, 48);
    expect(new DataView(copy.buffer).getUint32(44, true)).toBe(bitwiseCrc32c(zeroed));
    expect(decodeDatagram(copy, 1400).ok).toBe(true);
  });
});
