/**
 * The disk instrument cache is safe with several writers in several processes (src/venues/common/instrument-cache.ts):
 * two real processes (Bun.spawn: workers or instances sharing one `instrument_cache`) merge entries of different
 * markets into one file at the same time, many times, and every entry of both is in the file at the end. Before, the
 * merges were queued per process only: each process read the file, the other wrote it, and the first one's write
 * dropped what the other had just added. Also: a lock left by a writer that died is broken, a lock held too long
 * fails the merge naming the lock file, and the start-up write merges too (it replaced the file with its own read).
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { tryLockExclusive } from "../../../src/core/flock.ts";
import { newTempTags } from "../../../src/core/stale-temps.ts";
import { validateConfig } from "../../../src/config/load.ts";
import { createLogger, silentLogger, type Logger } from "../../../src/core/log.ts";
import { CACHE_LOCK_STALE_MS, withCacheLock, writeInstrumentCache } from "../../../src/venues/common/instrument-cache.ts";
import { mergeIntoInstrumentCache, readInstrumentCache, resolveInstruments, type InstrumentSource } from "../../../src/venues/common/instruments.ts";
import { makeTempDir } from "../../support/temp-dirs.ts";

/** A logger whose lines are kept, parsed. */
function capturedLog(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  return { log: createLogger({ level: "info", format: "json", write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }), lines };
}

/**
 * Beside the cache in `dir`, temporary files a writer killed mid-write left (unlocked, ten minutes old), one a live
 * writer holds (locked) and a fresh one: `dead` are the ones a sweep must take, `kept` the others; `close` lets go.
 */
function plantTemps(dir: string): { dead: string[]; kept: string[]; close: () => void } {
  const tenMinutesAgo = (Date.now() - 10 * 60_000) / 1000;
  const make = (name: string, old = true) => {
    writeFileSync(join(dir, name), "half a cache");
    if (old) utimesSync(join(dir, name), tenMinutesAgo, tenMinutesAgo);
    return name;
  };
  const tag = (pid: number) => newTempTags("instruments.json", ".", pid).tag;
  const dead = [make(`instruments.json.${tag(4242)}.tmp`), make(`instruments.json.lock.${tag(4242)}.new`)];
  const live = [make(`instruments.json.${tag(4243)}.tmp`), make(`instruments.json.lock.${tag(4243)}.new`)];
  const fds = live.map((name) => openSync(join(dir, name), "r+"));
  for (const fd of fds) expect(tryLockExclusive(fd)).toBe(true);
  const kept = [...live, make(`instruments.json.${tag(4244)}.tmp`, false), make("instruments.json.bak")];
  return { dead, kept, close: () => fds.forEach((fd) => closeSync(fd)) };
}

const WRITER = resolve(import.meta.dirname, "reload-loose-cache-writer.ts");
const MERGES = 150;

/** Starts a writer process and resolves once it printed "ready" (its module loaded), with a way to let it go. */
async function startWriter(path: string, market: string): Promise<{ go: () => void; exited: Promise<{ code: number; stderr: string }> }> {
  const proc = Bun.spawn([process.execPath, WRITER, path, market, String(MERGES)], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
  const reader = proc.stdout.getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`writer ${market} ended before it was ready: ${await new Response(proc.stderr).text()}`);
    out += new TextDecoder().decode(value);
  }
  return {
    go: () => {
      proc.stdin.write("go\n");
      void proc.stdin.flush();
    },
    exited: proc.exited.then(async (code) => ({ code, stderr: await new Response(proc.stderr).text() })),
  };
}

describe("the instrument cache with writers in several processes", { timeout: 60_000 }, () => {
  test(`two processes merging ${MERGES} entries each of their own market into one file: all ${2 * MERGES} are kept`, async () => {
    const path = join(makeTempDir("reload-loose-cache-"), "instruments.json");
    const writers = await Promise.all([startWriter(path, "spot"), startWriter(path, "linear")]);
    for (const w of writers) w.go();
    const results = await Promise.all(writers.map((w) => w.exited));
    expect(results).toEqual([
      { code: 0, stderr: "" },
      { code: 0, stderr: "" },
    ]);
    const cache = await readInstrumentCache(path);
    const missing: string[] = [];
    for (const market of ["spot", "linear"]) {
      for (let i = 0; i < MERGES; i++) if (!cache.has(`${market}:SYM${i}USDT`)) missing.push(`${market}:SYM${i}USDT`);
    }
    expect(missing).toEqual([]);
    expect(cache.size).toBe(2 * MERGES);
    expect(cache.get("linear:SYM10USDT")).toEqual({ tickSize: "0.01", lotSize: "0.002" });
    // Nothing left behind: no lock, no temporary file.
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  test("a lock left by a writer that died (older than the stale time) is broken, logged naming it and its holder (before: silently), and the merge goes through", async () => {
    const path = join(makeTempDir("reload-loose-cache-"), "instruments.json");
    writeFileSync(`${path}.lock`, "4242 dead 0\n");
    const past = (Date.now() - CACHE_LOCK_STALE_MS - 5_000) / 1000;
    utimesSync(`${path}.lock`, past, past);
    const { log, lines } = capturedLog();
    await mergeIntoInstrumentCache(path, "bybit", new Map([["spot:BTCUSDT", { tickSize: "0.01", lotSize: "0.000001" }]]), { log });
    expect(Object.fromEntries(await readInstrumentCache(path))).toEqual({ "spot:BTCUSDT": { tickSize: "0.01", lotSize: "0.000001" } });
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(lines).toEqual([expect.objectContaining({ level: "warn", msg: "instrument cache lock broken: its writer died holding it", lock: `${path}.lock`, holder: "4242 dead 0" })]);
  });

  test("a live writer's lock is respected: a merge that cannot get it in time fails naming the lock file, writing nothing; the holder's lock is left alone", async () => {
    const path = join(makeTempDir("reload-loose-cache-"), "instruments.json");
    writeFileSync(`${path}.lock`, "4242 alive 0\n");
    let ran = false;
    const { log, lines } = capturedLog();
    await expect(withCacheLock(path, async () => void (ran = true), { waitMs: 50, log })).rejects.toThrow(`${path}.lock`);
    expect(ran).toBe(false);
    expect(lines).toEqual([]); // not broken: nothing said of a break
    expect(readFileSync(`${path}.lock`, "utf8")).toBe("4242 alive 0\n");
    expect(existsSync(path)).toBe(false);
  });

  test("temporary files a writer killed mid-write left (<cache>.<pid>.<random><check>.tmp, <cache>.lock.<pid>.<random><check>.new) are removed by the next write; a live writer's (locked), a fresh one and every other file are kept (before: left for good; any <cache>.<digits>.<letters>.tmp taken)", async () => {
    const dir = makeTempDir("reload-loose-cache-temps-");
    const path = join(dir, "instruments.json");
    const tenMinutesAgo = (Date.now() - 10 * 60_000) / 1000;
    const make = (name: string, old = true) => {
      writeFileSync(join(dir, name), "half a cache");
      if (old) utimesSync(join(dir, name), tenMinutesAgo, tenMinutesAgo);
      return name;
    };
    const tag = (pid: number) => newTempTags("instruments.json", ".", pid);
    const wrongCheck = (t: string) => t.slice(0, -1) + (t.endsWith("0") ? "1" : "0");
    make(`instruments.json.${tag(4242).tag}.tmp`); // its writer gone: nobody holds its lock
    make(`instruments.json.lock.${tag(4242).tag}.new`);
    const live = make(`instruments.json.${tag(4243).tag}.tmp`); // a writer stopped mid-write (SIGSTOP): holds its lock
    const liveNew = make(`instruments.json.lock.${tag(4243).tag}.new`);
    const fresh = make(`instruments.json.${tag(4244).tag}.tmp`, false); // just made: maybe between its create and its lock
    const others = [
      make(`other.json.${tag(4245).tag}.tmp`), // another cache's
      make("instruments.json.bak"),
      make("instruments.json.lock.4246.x.break"),
      make("instruments.json.2024.dec.tmp"), // a user's, of the old pattern's shape (unlocked, old: taken before)
      make("instruments.json.lock.4242.k1lled.new"),
      make(`instruments.json.${tag(4247).unlockedTag}.tmp`), // a writer whose lock failed (ENOLCK): never taken
      make(`instruments.json.${wrongCheck(tag(4248).tag)}.tmp`), // of the exact shape, its check wrong
      make(`instruments.json.${newTempTags("other.json", ".", 4249).tag}.tmp`), // a tag made for another cache
    ];
    const liveFds = [live, liveNew].map((name) => openSync(join(dir, name), "r+"));
    try {
      for (const fd of liveFds) expect(tryLockExclusive(fd)).toBe(true);
      await mergeIntoInstrumentCache(path, "bybit", new Map([["spot:BTCUSDT", { tickSize: "0.01", lotSize: "0.000001" }]]));
      expect(Object.fromEntries(await readInstrumentCache(path))).toEqual({ "spot:BTCUSDT": { tickSize: "0.01", lotSize: "0.000001" } });
      expect(readdirSync(dir).sort()).toEqual(["instruments.json", live, liveNew, fresh, ...others].sort());
    } finally {
      for (const fd of liveFds) closeSync(fd);
    }
  });

  test("a start that writes nothing (the cache as REST or the overrides say) removes a killed writer's temporary files all the same; a live writer's and other files kept (before: left until some write changed the cache)", async () => {
    const dir = makeTempDir("reload-loose-cache-start-");
    const path = join(dir, "instruments.json");
    await writeInstrumentCache(path, "bybit", new Map([["spot:BTCUSDT", { tickSize: "0.01", lotSize: "0.000001" }]]));
    const planted = plantTemps(dir);
    try {
      const config = validateConfig({
        publish: { destinations: [{ name: "t", group: "239.255.1.1", port: 30000, interface: "127.0.0.1" }] },
        venues: { bybit: { instrument_cache: path, overrides: { "spot:BTCUSDT": { tick_size: "0.01", lot_size: "0.000001" } }, spot: { depth: 50, symbols: ["BTCUSDT"] } } },
      }).venues[0]!;
      const source: InstrumentSource = { notListed: () => "not listed", fetchSpecs: () => Promise.reject(new Error("not asked: overridden")) };
      const before = readFileSync(path, "utf8");
      const { instruments } = await resolveInstruments(config, [{ market: "spot", symbol: "BTCUSDT", depth: 50 }], source, silentLogger);
      expect(instruments.map((i) => i?.symbol)).toEqual(["BTCUSDT"]);
      expect(readFileSync(path, "utf8")).toBe(before); // nothing written
      expect(readdirSync(dir).sort()).toEqual(["instruments.json", ...planted.kept].sort());
    } finally {
      planted.close();
    }
  });

  test("a merge that changes nothing removes a killed writer's temporary files; a live writer's and other files kept (before: only a merge that wrote did)", async () => {
    const dir = makeTempDir("reload-loose-cache-same-");
    const path = join(dir, "instruments.json");
    const entries = new Map([["spot:BTCUSDT", { tickSize: "0.01", lotSize: "0.000001" }]]);
    await writeInstrumentCache(path, "bybit", entries);
    const before = readFileSync(path, "utf8");
    const planted = plantTemps(dir);
    try {
      await mergeIntoInstrumentCache(path, "bybit", entries);
      expect(readFileSync(path, "utf8")).toBe(before); // nothing written
      expect(readdirSync(dir).sort()).toEqual(["instruments.json", ...planted.kept].sort());
    } finally {
      planted.close();
    }
  });
});
