/**
 * Run by test/app/metrics-emfile.test.ts in a child with a small RLIMIT_NOFILE: renders /metrics (a Feeder's
 * pipeline snapshot and the process's numbers) with every descriptor taken, and prints what came out as JSON.
 */
import { closeSync, openSync } from "node:fs";
import { Feeder } from "../../../src/app/feeder.ts";
import { renderMetrics } from "../../../src/app/metrics.ts";
import { processSnapshot } from "../../../src/app/process-metrics.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { silentLogger } from "../../../src/core/log.ts";

const config = validateConfig({ publish: { destinations: [{ group: "239.255.99.1", port: 29_999, interface: "127.0.0.1", ttl: 1, channel: 1 }] } }, { requireVenue: false });
const feeder = new Feeder({ config, log: silentLogger }); // not started: no socket
const render = () => renderMetrics({ pipelines: [feeder.metricsSnapshot()], process: processSnapshot() });
render(); // a scrape while descriptors were free
const fds: number[] = [];
for (;;) {
  try {
    fds.push(openSync("/dev/null", "r"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EMFILE") break;
    throw err;
  }
}
let text = "";
let error = "";
try {
  text = render();
} catch (err) {
  error = err instanceof Error ? err.message : String(err);
}
for (const fd of fds) closeSync(fd);
console.log(JSON.stringify({ opened: fds.length, text, error }));
