/**
 * Reading wire v2 (docs/wire-protocol.md §3.2): test/wire/vectors-v2.json is the golden vector file of wire v2 as it
 * was at commit a62b56c (the last v2 publisher), frozen. A v3 decoder must give every one of them the verdict v2 gave
 * (valid ones decode, with the key where they are signed; reject vectors keep their code), and each valid v2
 * datagram must decode to exactly what the v3 vector of the same name decodes to, apart from version and checksum,
 * and a snapshot's cutFlags (reserved, 0, before 2026-12-06: a v3 publisher since marks its cuts, §4.4); except the
 * two v3 vectors regenerated since with other inputs (split_snapshot, split_delta: 856-byte datagrams, not 256).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";
import { fromHex } from "./helpers.ts";
import type { Vector } from "./vector-encode.ts";
import type { DecodedPacket } from "../../src/wire/decode-objects.ts";

/** The packet without the fields v2 and v3 publishers write differently (version, checksum, cutFlags). */
function comparable(p: DecodedPacket): unknown {
  return { ...p, version: 0, checksum: 0, messages: p.messages.map((m) => (m.type === "snapshot" ? { ...m, cutFlags: 0 } : m)) };
}

const v2: Vector[] = JSON.parse(readFileSync(new URL("./vectors-v2.json", import.meta.url), "utf8"));
const v3 = new Map((JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8")) as Vector[]).map((v) => [v.name, v]));

describe("wire v2 golden vectors read by the v3 decoder", () => {
  it("every v2 vector keeps its verdict", () => {
    let datagrams = 0;
    for (const v of v2) {
      const auth = v.authKeyHex !== undefined ? new DatagramAuth(fromHex(v.authKeyHex)) : undefined;
      for (const hex of v.datagrams) {
        const bytes = fromHex(hex);
        if (v.rawHex === undefined) expect(bytes[2], v.name).toBe(2);
        const res = decodeDatagram(bytes, v.maxDatagramBytes, auth);
        expect(res.ok ? "ok" : res.error.codeName, v.name).toBe(v.expectError ?? "ok");
        datagrams++;
      }
    }
    expect(datagrams).toBeGreaterThan(25);
  });

  it("a valid v2 datagram decodes to what its v3 counterpart decodes to, apart from version, checksum and cutFlags", () => {
    let compared = 0;
    const regenerated: string[] = [];
    for (const v of v2) {
      if (v.expectError !== undefined) continue;
      const w = v3.get(v.name)!;
      if (w.maxDatagramBytes !== v.maxDatagramBytes || JSON.stringify(w.ops) !== JSON.stringify(v.ops)) {
        regenerated.push(v.name); // other inputs since v2 was frozen: nothing to compare
        continue;
      }
      expect(w.datagrams.length, v.name).toBe(v.datagrams.length);
      const auth = v.authKeyHex !== undefined ? new DatagramAuth(fromHex(v.authKeyHex)) : undefined;
      v.datagrams.forEach((hex, i) => {
        const a = decodeDatagram(fromHex(hex), v.maxDatagramBytes, auth);
        const b = decodeDatagram(fromHex(w.datagrams[i]!), w.maxDatagramBytes, auth);
        if (!a.ok || !b.ok) throw new Error(`${v.name}: not decoded`);
        expect(a.packet.version).toBe(2);
        expect(b.packet.version).toBe(3);
        expect(a.packet.checksum).not.toBe(b.packet.checksum);
        expect(comparable(a.packet), v.name).toEqual(comparable(b.packet));
        for (const m of a.packet.messages) if (m.type === "snapshot") expect(m.cutFlags, v.name).toBe(0);
        compared++;
      });
    }
    expect(compared).toBeGreaterThan(12);
    // Regenerated at 856 bytes on 2026-12-06 (256, their v2 size, is below what a publisher may configure).
    expect(regenerated).toEqual(["split_snapshot", "split_delta"]);
  });
});
