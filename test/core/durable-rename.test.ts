/**
 * A file replaced by a rename is stored on disk first and the rename after (core/durable-rename.ts): `export --out`
 * and the instrument cache. Before, neither was synced: a power loss soon after the rename could leave FILE or the
 * cache empty (XFS, ext4 without its rename heuristic). What a test can show on a real file system: the calls made,
 * in order, on the right files (the file system calls wrapped, the real ones made underneath; which file a descriptor
 * is read from /proc/self/fd at the call), and that a failed store leaves the old file and says why.
 */
import { readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { exportCommand } from "../../src/cli/commands/export.ts";
import { createLogger } from "../../src/core/log.ts";
import { durableFs, renameDurablySync } from "../../src/core/durable-rename.ts";
import { writeInstrumentCache } from "../../src/venues/common/instrument-cache.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeXrpCapture } from "../support/xrp-capture.ts";

const real = { ...durableFs };
afterEach(() => void Object.assign(durableFs, real));

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

/** Every durableFs call, as "fsync <file>", "rename <from> <to>", "open <dir>", the real call made after it is noted. */
function recordCalls(fail: { fsyncOf?: RegExp; code?: string } = {}): string[] {
  const calls: string[] = [];
  const fileOf = (fd: number) => readlinkSync(`/proc/self/fd/${fd}`);
  const failing = (fd: number) => {
    const name = fileOf(fd);
    calls.push(`fsync ${name}`);
    if (fail.fsyncOf?.test(name)) throw errno(fail.code ?? "EIO");
  };
  durableFs.fsyncSync = (fd) => {
    failing(fd);
    real.fsyncSync(fd);
  };
  durableFs.fsync = async (fd) => {
    failing(fd);
    await real.fsync(fd);
  };
  durableFs.renameSync = (from, to) => {
    calls.push(`rename ${from} ${to}`);
    real.renameSync(from, to);
  };
  durableFs.rename = async (from, to) => {
    calls.push(`rename ${from} ${to}`);
    await real.rename(from, to);
  };
  durableFs.openSync = (path, flags) => {
    calls.push(`open ${path}`);
    return real.openSync(path, flags);
  };
  return calls;
}

/** The calls with this run's temporary file's name put as TMP. */
const withTmp = (calls: string[], tmpPrefix: string) => calls.map((c) => c.replace(new RegExp(`${tmpPrefix}[^ ]*`, "g"), "TMP"));

describe("export --out: the temporary file is stored before its rename, the rename after", () => {
  const exportTo = (file: string, out: string, lines: string[]) =>
    exportCommand.run({ values: { format: "csv", out }, positionals: [file], log: createLogger({ level: "info", format: "json", write: (l) => void lines.push(l) }), out: () => undefined, stopSignal: new Promise(() => {}) });

  test("fsync of the written file, rename over FILE, fsync of FILE's directory, in that order", async () => {
    const dir = makeTempDir("feeder-durable-export-");
    const { file, frames } = writeXrpCapture(dir);
    const out = join(dir, "frames.csv");
    writeFileSync(out, "yesterday's frames\n");
    const calls = recordCalls();
    expect(await exportTo(file, out, [])).toBe(0);
    // Before: no call at all (a bare renameSync).
    expect(withTmp(calls, `${out}.tmp-`)).toEqual([`fsync TMP`, `rename TMP ${out}`, `open ${dir}`, `fsync ${dir}`]);
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(frames.length + 1);
  });

  test("the file cannot be stored (EIO): FILE as it was, no temporary file, exit 1 naming the fsync", async () => {
    const dir = makeTempDir("feeder-durable-export-");
    const { file } = writeXrpCapture(dir);
    const out = join(dir, "frames.csv");
    writeFileSync(out, "yesterday's frames\n");
    const calls = recordCalls({ fsyncOf: /\.tmp-/ });
    const lines: string[] = [];
    expect(await exportTo(file, out, lines)).toBe(1);
    expect(withTmp(calls, `${out}.tmp-`)).toEqual(["fsync TMP"]);
    expect(readFileSync(out, "utf8")).toBe("yesterday's frames\n");
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
    expect(lines.join("\n")).toMatch(/export failed.*could not be stored on disk \(fsync: EIO\), so it was not renamed over/);
  });

  test("the directory cannot be stored (EIO): FILE replaced all the same, and a warning says the rename may not survive a power loss; EINVAL (not done by the file system) says nothing", async () => {
    for (const [code, warned] of [["EIO", true], ["EINVAL", false]] as const) {
      const dir = makeTempDir("feeder-durable-export-");
      const { file } = writeXrpCapture(dir);
      const out = join(dir, "frames.csv");
      recordCalls({ fsyncOf: new RegExp(`^${dir}$`), code });
      const lines: string[] = [];
      expect(await exportTo(file, out, lines), code).toBe(0);
      expect(readFileSync(out, "utf8"), code).toMatch(/^ts_recv_us,/);
      expect(lines.some((l) => l.includes("may not survive a power loss") && l.includes(`fsync: ${code}`)), code).toBe(warned);
    }
  });
});

describe("the instrument cache: stored before its rename, the rename after", () => {
  const spec = new Map([["linear:BTCUSDT", { tickSize: "0.1", lotSize: "0.001" }]]);

  test("fsync of the written file, rename over the cache, fsync of its directory, in that order", async () => {
    const dir = makeTempDir("feeder-durable-cache-");
    const path = join(dir, "instruments.json");
    const calls = recordCalls();
    await writeInstrumentCache(path, "bybit", spec);
    // Before: no call at all (a bare rename).
    expect(withTmp(calls, `${path}\\.`)).toEqual([`fsync TMP`, `rename TMP ${path}`, `open ${dir}`, `fsync ${dir}`]);
    expect(JSON.parse(readFileSync(path, "utf8")).instruments).toEqual({ "linear:BTCUSDT": { tickSize: "0.1", lotSize: "0.001" } });
  });

  test("the file cannot be stored (EIO): the write fails naming it, the cache as it was, no temporary file", async () => {
    const dir = makeTempDir("feeder-durable-cache-");
    const path = join(dir, "instruments.json");
    writeFileSync(path, "the old cache\n");
    recordCalls({ fsyncOf: /\.tmp$/ });
    await expect(writeInstrumentCache(path, "bybit", spec)).rejects.toThrow(/could not be stored on disk \(fsync: EIO\), so it was not renamed over .*instruments\.json/);
    expect(readFileSync(path, "utf8")).toBe("the old cache\n");
    expect(readdirSync(dir)).toEqual(["instruments.json"]);
  });
});

test("renameDurablySync: a directory that cannot be opened (EACCES) is said, the rename made", () => {
  const dir = makeTempDir("feeder-durable-unit-");
  const tmp = join(dir, "a.tmp");
  writeFileSync(tmp, "new\n");
  const fd = real.openSync(tmp, 0);
  try {
    durableFs.openSync = () => {
      throw errno("EACCES");
    };
    expect(renameDurablySync(fd, tmp, join(dir, "a"))).toMatch(/a is in place, but its directory .* could not be stored on disk \(open: EACCES\)/);
  } finally {
    real.closeSync(fd);
  }
  expect(readFileSync(join(dir, "a"), "utf8")).toBe("new\n");
});
