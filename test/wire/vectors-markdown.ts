/**
 * Prints docs/wire-protocol.md §8.3 (every vector as a hex dump) from test/wire/vectors.json:
 *   npx bun test/wire/vectors-markdown.ts > /tmp/vectors.md   (then paste it over §8.3)
 * test/wire/vectors.test.ts checks the spec quotes every datagram.
 */
import { readFileSync } from "node:fs";
import { fromHex } from "./helpers.ts";
import type { Vector } from "./vector-encode.ts";

const vectors: Vector[] = JSON.parse(readFileSync(new URL("./vectors.json", import.meta.url), "utf8"));

function dump(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let o = 0; o < bytes.length; o += 16) {
    const row = [...bytes.subarray(o, o + 16)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    lines.push(o.toString(16).padStart(4, "0") + "  " + row);
  }
  return "```hex\n" + lines.join("\n") + "\n```";
}

const out: string[] = [];
for (const v of vectors) {
  out.push("#### `" + v.name + "`", "");
  const settings =
    v.rawHex !== undefined
      ? ""
      : ` maxDatagramBytes ${v.maxDatagramBytes}, channel ${v.channelId}, source ${v.sourceId}, session 0x${v.sessionId.toString(16).padStart(8, "0")}, first seq ${v.firstSeq}.`;
  const reject = v.expectError !== undefined ? ` **Must be refused: \`${v.expectError}\`.**` : "";
  out.push(v.description + settings + reject, "");
  v.datagrams.forEach((hex, i) => {
    const bytes = fromHex(hex);
    out.push(v.datagrams.length > 1 ? `Datagram ${i + 1} of ${v.datagrams.length} (${bytes.length} B):` : `${bytes.length} B:`, "");
    out.push(dump(bytes), "");
  });
}
console.log(out.join("\n"));
