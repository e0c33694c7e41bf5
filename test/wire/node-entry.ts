/**
 * Bundled by test/wire/node-compat.test.ts for plain Node 20 (no Bun): decodes every golden vector with the
 * checksum of its version (CRC-32 for v3, natively through node:zlib when this Node has it; CRC-32C for v2) and, for
 * authenticated ones, the HMAC check, and prints one JSON line with what it found.
 */
import { readFileSync } from "node:fs";
import { DatagramAuth } from "../../src/wire/auth.ts";
import { crc32, datagramCrc32Ts, NATIVE_CRC32 } from "../../src/wire/crc32.ts";
import { crc32c } from "../../src/wire/crc32c.ts";
import { decodeDatagram } from "../../src/wire/decode-objects.ts";

interface V {
  name: string;
  authKeyHex?: string;
  expectError?: string;
  maxDatagramBytes: number;
  datagrams: string[];
}
const vectors: V[] = JSON.parse(readFileSync(process.argv[2]!, "utf8"));
const results: Record<string, string> = {};
for (const v of vectors) {
  const auth = v.authKeyHex !== undefined ? new DatagramAuth(Uint8Array.from(Buffer.from(v.authKeyHex, "hex"))) : undefined;
  const codes = v.datagrams.map((h) => {
    const res = decodeDatagram(Uint8Array.from(Buffer.from(h, "hex")), v.maxDatagramBytes, auth);
    return res.ok ? "ok" : res.error.codeName;
  });
  results[v.name] = codes.join(",");
}
const nine = new TextEncoder().encode("123456789");
const check = crc32c(nine).toString(16);
const check32 = crc32(nine).toString(16);
// The TypeScript CRC-32 (what a Node without zlib.crc32 runs) must agree with the native one on a real datagram.
const delta = Uint8Array.from(Buffer.from(vectors.find((v) => v.name === "delta")!.datagrams[0]!, "hex"));
const tsAgrees = datagramCrc32Ts(delta, delta.length) === new DataView(delta.buffer).getUint32(44, true);
const runtime = typeof (globalThis as { Bun?: unknown }).Bun === "undefined" ? "node" : "bun";
console.log(JSON.stringify({ runtime, native: NATIVE_CRC32 !== undefined, check, check32, tsAgrees, results }));
