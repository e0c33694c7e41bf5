/**
 * Runs every bench/*.bench.ts (or the ones named on the command line) one after another, each in its own
 * Bun process so one benchmark's heap and JIT state never colour the next. `npm run bench [-- book wire]`.
 * Among them e2e (with its floor contender) and load (1,300 books from the simulator); as root e2e, load, bridge and
 * http re-run themselves inside a private network namespace. BENCH_QUICK=1 shortens the benches that have a quick
 * mode; BENCH_SMOKE=1 runs each with tiny counts, only to show it still runs (test/bench-smoke runs them so).
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dirname;
const wanted = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .filter((f) => wanted.length === 0 || wanted.some((w) => f.startsWith(w)))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file} (${new Date().toISOString()}, bun ${Bun.version}) ===`);
  const proc = Bun.spawnSync([process.execPath, join(dir, file)], { stdout: "inherit", stderr: "inherit", env: process.env });
  if (proc.exitCode !== 0) {
    failed++;
    console.log(`!!! ${file} exited ${proc.exitCode}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
