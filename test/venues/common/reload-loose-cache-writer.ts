/**
 * One writer process of reload-loose-cache.test.ts: prints "ready", waits for "go" on stdin, then merges `count`
 * entries of its market into the cache file one after another (as a worker or another instance would, each a symbol
 * resolved late or a changed tick), and exits 0 (1 with the error on stderr if a merge failed).
 * Usage: bun reload-loose-cache-writer.ts <cache path> <market> <count>
 */
import { mergeIntoInstrumentCache } from "../../../src/venues/common/instruments.ts";

const [path, market, countText] = process.argv.slice(2);
const count = Number(countText);
process.stdout.write("ready\n");
for await (const chunk of process.stdin) {
  if (String(chunk).includes("go")) break;
}
try {
  for (let i = 0; i < count; i++) {
    await mergeIntoInstrumentCache(path!, "bybit", new Map([[`${market}:SYM${i}USDT`, { tickSize: "0.01", lotSize: `0.00${(i % 9) + 1}` }]]));
  }
  process.exit(0);
} catch (err) {
  process.stderr.write(String(err) + "\n");
  process.exit(1);
}
