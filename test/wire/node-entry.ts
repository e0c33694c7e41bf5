/**
 * Bundled by test/wire/node-compat.test.ts for plain Node 20 (no Bun): decodes every golden vector with the
 * CRC-32C and, for authenticated ones, the HMAC check, and prints one JSON line with what it found.
 */
import { readFileSync } from "node:fs";
import { DatagramAuth } from "../../src/wire/auth.ts";
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
const check = crc32c(new TextEncoder().encode("123456789")).toString(16);
console.log(JSON.stringify({ runtime: typeof (globalThis as { Bun?: unknown }).Bun === "undefined" ? "node" : "bun", check, results }));
