/**
 * /metrics with every descriptor of the process taken (EMFILE), when process_open_fds matters most. Bun's
 * process.memoryUsage() (and memoryUsage.rss()) opens a file and throws then ("Failed to get memory usage", Bun
 * 1.4.5): the pipeline's heap gauge and the process's RSS threw out of the scrape, which failed whole (HTTP 500); and
 * /proc/self/limits could not be read, so process_max_fds was left out. Now what cannot be read is left out of that
 * scrape (the heap, RSS) and the limit read last stands. A child process under `ulimit -n 64` (test/app/support/
 * emfile-metrics.ts) opens /dev/null until EMFILE and renders the metrics.
 */
import { expect, test } from "vitest";
import { join } from "node:path";
import { parsePrometheusText } from "../../src/app/prometheus.ts";

const SCRIPT = join(import.meta.dirname, "support", "emfile-metrics.ts");

test("at the descriptor limit /metrics still renders: the open fds at the limit, the limit known", async () => {
  const proc = Bun.spawn(["bash", "-c", 'ulimit -n 64 && exec "$0" "$1"', process.execPath, SCRIPT], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  expect(code, err).toBe(0);
  const r = JSON.parse(out.trim().split("\n").pop()!) as { opened: number; text: string; error: string };
  expect(r.opened).toBeGreaterThan(0);
  expect(r.error).toBe(""); // before: "Failed to get memory usage"
  const samples = parsePrometheusText(r.text).samples;
  const value = (name: string) => samples.find((s) => s.name === name)?.value;
  expect(value("process_max_fds")).toBe(64);
  expect(value("process_open_fds")).toBeGreaterThanOrEqual(60);
  expect(value("process_open_fds")).toBeLessThanOrEqual(64);
  expect(value("feeder_datagrams_sent_total")).toBe(0); // the pipeline's own series are there
});
