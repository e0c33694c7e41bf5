/**
 * process_open_fds is counted as the HTTP descriptor guard counts (src/app/fd-count.ts): from the size of
 * /proc/self/fd where the kernel gives it (Linux 6.2+), the directory listed only where that is 0. Before, every
 * /metrics scrape listed it: a string per descriptor on the pipeline's thread (48-94 ms at 15,000 descriptors).
 * At the limit (EMFILE) the limit read last stands: the limits file needs a descriptor too.
 */
import { readFileSync } from "node:fs";
import { expect, test, vi } from "vitest";
import { processSnapshot } from "../../src/app/process-metrics.ts";

test("process_open_fds comes from the descriptor directory's size when it has one; listed only when it is 0", () => {
  let listed = 0;
  const dir = (size: number, entries: number) => ({
    size: () => size,
    count: () => (listed++, entries),
  });
  expect(processSnapshot(dir(48_000, 48_001)).openFds).toBe(48_000);
  expect(listed).toBe(0);
  expect(processSnapshot(dir(0, 48_001)).openFds).toBe(48_001);
  expect(listed).toBe(1);
});

test("no descriptor left to list them with (EMFILE): the count is the limit", () => {
  const emfile = { size: () => 0, count: () => { throw Object.assign(new Error("EMFILE"), { code: "EMFILE" }); } };
  const p = processSnapshot(emfile);
  if (p.maxFds !== undefined) expect(p.openFds).toBe(p.maxFds);
  else expect(p.openFds).toBeUndefined();
});

test("the real count: this process's descriptors", () => {
  expect(processSnapshot().openFds).toBeGreaterThan(2); // stdin, stdout, stderr at least
});

test("at the descriptor limit (EMFILE), the limit is still known: /proc/self/limits cannot be opened then either", () => {
  const emfile = () => {
    throw Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" });
  };
  const listingFails = { size: () => 0, count: emfile }; // a kernel before 6.2: the count is a listing
  const limits = "Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n";
  expect(processSnapshot(listingFails, () => limits)).toMatchObject({ maxFds: 1024, openFds: 1024 });
  // Then every descriptor is taken: the limits file cannot be read either. Before, both metrics were left out.
  expect(processSnapshot(listingFails, emfile)).toMatchObject({ maxFds: 1024, openFds: 1024 });
  expect(processSnapshot({ size: () => 1024, count: emfile }, emfile)).toMatchObject({ maxFds: 1024, openFds: 1024 });
});

test("a first scrape at the descriptor limit still has the limit: it is read when the module loads", async () => {
  const emfile = () => {
    throw Object.assign(new Error("EMFILE: too many open files"), { code: "EMFILE" });
  };
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync("/proc/self/limits", "utf8"));
  const limit = m ? Number(m[1]) : undefined;
  expect(limit, "this host's soft limit (finite here)").toBeDefined();
  vi.resetModules(); // a process whose /metrics was never scraped before it ran out of descriptors
  const fresh = await import("../../src/app/process-metrics.ts");
  // Before, nothing had been read yet: both fd metrics were left out of that scrape.
  expect(fresh.processSnapshot({ size: () => 0, count: emfile }, emfile)).toMatchObject({ maxFds: limit, openFds: limit });
});

test("process_start_time_seconds follows a step of the host's wall clock, one value between scrapes (docs/operations.md § Clock steps)", () => {
  const at = Date.now();
  const snap = (wallNowMs: number) => processSnapshot(undefined, undefined, () => wallNowMs).startTimeSeconds;
  const start = snap(at);
  expect(start).toBeCloseTo(at / 1000 - process.uptime(), 1);
  // Jitter (the two clocks read a few ms apart, or a few ms later): the same value, so changes() sees no restart.
  expect(snap(at + 3)).toBe(start);
  expect(snap(at - 3)).toBe(start);
  // The clock stepped an hour ahead (NTP correcting a bad RTC after the start): the start as the clock now reads it.
  // Before, the value read when the module loaded stood: the dashboard's uptime, time() less it, off by the step.
  const ahead = snap(at + 3_600_000);
  expect(ahead - start).toBeCloseTo(3600, 1);
  expect(snap(at + 3_600_002)).toBe(ahead);
  expect(snap(at - 7_200_000) - start).toBeCloseTo(-7200, 1); // and back
  expect(snap(Date.now())).toBeCloseTo(start, 1);
});
