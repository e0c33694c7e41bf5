// Run by test/wire/node-compat.test.ts with plain Node on the compiled library (tsconfig.lib.json, what
// `npm run build:lib` ships): decodes every golden vector through the package's public entry and feeds the
// `snapshot` vector to a FeedSubscriber, then prints one JSON line. argv: libDir vectors.json
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [libDir, vectorsPath] = process.argv.slice(2);
const lib = await import(pathToFileURL(`${libDir}/subscriber/index.js`).href);
const { NATIVE_CRC32, crc32 } = await import(pathToFileURL(`${libDir}/wire/crc32.js`).href);
const vectors = JSON.parse(readFileSync(vectorsPath, "utf8"));
const results = {};
for (const v of vectors) {
  results[v.name] = v.datagrams
    .map((h) => {
      const res = lib.decodeDatagram(Uint8Array.from(Buffer.from(h, "hex")), v.maxDatagramBytes);
      return res.ok ? "ok" : res.error.codeName;
    })
    .join(",");
}
const sub = new lib.FeedSubscriber({ groups: [], staleAfterMs: 0 });
for (const h of vectors.find((v) => v.name === "snapshot").datagrams) sub.ingest(Uint8Array.from(Buffer.from(h, "hex")));
const book = [...sub.books.values()][0];
console.log(
  JSON.stringify({
    node: process.versions.node,
    native: NATIVE_CRC32 !== undefined,
    check32: crc32(new TextEncoder().encode("123456789")).toString(16),
    results,
    rejected: sub.counters.rejected,
    bookUsable: book?.usable ?? null,
  }),
);
