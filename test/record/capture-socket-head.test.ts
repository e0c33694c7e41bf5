/**
 * Every capture file after the first begins with each open connection's sockets as the records before it said them
 * (app/capture-sockets.ts: `ws:state` one socket, `ws:overlap` a planned reconnect's overlap; none for a closed
 * connection), so a file replayed alone starts from the live run's sockets. Before, nothing was written at a rotation:
 * a file replayed alone used the older guesses until the connection's next `ws:state` (up to a minute), and never knew
 * an overlap it began in. Since s-replaymark the head also names each connection's books closed by their listing
 * (`ws:closedset`), so a file replayed alone shows them halted as live had them. Injected clocks: no waiting.
 */
import { describe, expect, test } from "vitest";
import { makeTempDir } from "../support/temp-dirs.ts";
import { rng } from "../support/mulberry32.ts";
import { CaptureWriter, readCapture, type CaptureRecord } from "../../src/record/capture.ts";
import { CaptureSocketHead } from "../../src/app/capture-sockets.ts";

const MINUTE = 60_000;
const BASE_MS = Date.UTC(2026, 11, 6, 12, 0, 30);

/** A writer cutting files at every UTC minute on an injected clock, blocks split there by receive time. */
function minuteWriter() {
  const clock = { monoMs: 1_000 };
  const w = new CaptureWriter({
    dir: makeTempDir("feeder-sock-head-"),
    prefix: "feeder",
    flushBytes: 1 << 20,
    flushIntervalMs: 1e9,
    maxFileAgeMs: MINUTE,
    now: () => BASE_MS + clock.monoMs,
    monoNow: () => clock.monoMs,
    recordUsAtMonoMs: (m) => (BASE_MS + m) * 1000,
    fileHead: new CaptureSocketHead(),
  });
  const nowUs = () => (BASE_MS + clock.monoMs) * 1000;
  return { w, clock, nowUs };
}

const key = (r: Pick<CaptureRecord, "venue" | "market" | "connection">) => `${r.venue}/${r.market}/${r.connection}`;

/**
 * Reference: the head a file gets after `records`: per connection its last socket word, closed ones left out; and per
 * connection (open or not) the books closed by their listing, as replay reads the records: `ws:closed` closes,
 * `ws:reopened` and a subscribe's `ws:req` reopen, but those its fourth element names still closed (an Upbit/Bithumb
 * probe's none: replay's probe brings back nothing). Topics sorted.
 */
function expectedHead(records: readonly CaptureRecord[]): string[] {
  const state = new Map<string, string>();
  const closed = new Map<string, Set<string>>();
  for (const r of records) {
    if (r.url === undefined) continue;
    const topics = closed.get(key(r)) ?? new Set<string>();
    closed.set(key(r), topics);
    if (r.url === "ws:close") state.delete(key(r));
    else if (r.url === "ws:swap" || r.url === "ws:overlap") state.set(key(r), "ws:overlap");
    else if (["ws:open", "ws:sockets", "ws:state", "ws:retired", "ws:back"].includes(r.url)) state.set(key(r), "ws:state");
    else if (r.url === "ws:closed") for (const t of (r.frame as string).split(" ")) topics.add(t);
    else if (r.url === "ws:reopened") for (const t of (r.frame as string).split(" ")) topics.delete(t);
    else if (r.url.startsWith("ws:req ")) {
      const [id, op, named, still] = JSON.parse(r.url.slice(7)) as [string, string, string[], string[] | undefined];
      if (op === "subscribe" && !id.startsWith("probe")) for (const t of named) if (!still?.includes(t)) topics.delete(t);
    }
  }
  const closedHead = [...closed].filter(([, topics]) => topics.size > 0).map(([k, topics]) => `${k} ws:closedset ${[...topics].sort().join(" ")}`);
  return [...[...state].map(([k, url]) => `${k} ${url}`), ...closedHead].sort();
}

/** A head record as expectedHead writes it (a closed set's topics sorted). */
const headLine = (h: CaptureRecord) => `${key(h)} ${h.url}${h.url === "ws:closedset" ? ` ${(h.frame as string).split(" ").sort().join(" ")}` : ""}`;

describe("capture files begin with the connections' sockets (feeder record)", () => {
  test("a file cut during an overlap begins with ws:overlap, one cut with one socket with ws:state; a closed connection gets none", () => {
    const { w, clock, nowUs } = minuteWriter();
    const ev = (conn: string, url: string) => w.writeRest(nowUs(), "okx", "spot", conn, url, url === "ws:open" ? "wss://x" : "");
    ev("a", "ws:open");
    ev("a", "ws:sockets");
    ev("b", "ws:open");
    ev("b", "ws:sockets");
    ev("c", "ws:open");
    ev("c", "ws:sockets");
    w.write(nowUs(), "okx", "spot", "a", "frame-a");
    ev("b", "ws:swap");
    ev("b", "ws:old");
    w.write(nowUs(), "okx", "spot", "b", "old-b");
    ev("c", "ws:close");
    w.flush(); // the first file opened (12:00:30.000)
    clock.monoMs += 30_000; // 12:01:00.000: its boundary
    w.write(nowUs(), "okx", "spot", "a", "frame-a2");
    w.close();
    expect(w.files).toHaveLength(2);
    expect(readCapture(w.files[0]!).records.map((r) => r.url ?? r.frame)).toEqual(["ws:open", "ws:sockets", "ws:open", "ws:sockets", "ws:open", "ws:sockets", "frame-a", "ws:swap", "ws:old", "old-b", "ws:close"]);
    const second = readCapture(w.files[1]!).records;
    // Before: ["frame-a2"] alone.
    expect(second.map((r) => `${r.connection} ${r.url ?? r.frame}`)).toEqual(["a ws:state", "b ws:overlap", "a frame-a2"]);
    expect(second[0]).toMatchObject({ venue: "okx", market: "spot", frame: "", tsRecvUs: second[2]!.tsRecvUs });
  });

  test("random events, writes, flushes and cuts: each file's head is what the records of the files before it said (reference model), stamped as its first record", () => {
    const urls = ["ws:open", "ws:sockets", "ws:state", "ws:swap", "ws:old", "ws:retired", "ws:back", "ws:close", "https://rest/snapshot", "ws:closed", "ws:reopened", "ws:req"];
    const books = ["book.A", "book.B", "book.C"];
    let closedHeads = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const r = rng(seed);
      const { w, clock, nowUs } = minuteWriter();
      const written: CaptureRecord[] = [];
      for (let i = 0; i < 120; i++) {
        clock.monoMs += Math.floor(r() * (r() < 0.1 ? 70_000 : 3_000));
        const conn = `c${Math.floor(r() * 3)}`;
        const venue = r() < 0.8 ? "okx" : "bybit";
        if (r() < 0.5) {
          let url = urls[Math.floor(r() * urls.length)]!;
          let body = "";
          // Books closed and brought back (ws:closed, ws:reopened, a request naming them, some still closed).
          const some = books.filter(() => r() < 0.5);
          if (some.length === 0) some.push(books[0]!);
          if (url === "ws:closed" || url === "ws:reopened") body = some.join(" ");
          else if (url === "ws:req") url = `ws:req ${JSON.stringify([r() < 0.2 ? `probe${i}` : `s${i}`, r() < 0.8 ? "subscribe" : "unsubscribe", some, ...(r() < 0.3 ? [some.slice(0, 1)] : [])])}`;
          w.writeRest(nowUs(), venue, "spot", conn, url, body);
          written.push({ tsRecvUs: nowUs(), venue, market: "spot", connection: conn, frame: body, url });
        } else {
          w.write(nowUs(), venue, "spot", conn, `f${i}`);
          written.push({ tsRecvUs: nowUs(), venue, market: "spot", connection: conn, frame: `f${i}` });
        }
        if (r() < 0.3) w.flush();
      }
      w.close();
      let taken = 0;
      for (const [n, file] of w.files.entries()) {
        const records = readCapture(file).records;
        const head = n === 0 ? [] : expectedHead(written.slice(0, taken));
        const got = records.slice(0, head.length);
        expect(got.map(headLine).sort(), `seed ${seed} file ${n}`).toEqual(head);
        const own = records.slice(head.length);
        expect(own, `seed ${seed} file ${n}`).toEqual(written.slice(taken, taken + own.length));
        for (const h of got) expect(h.tsRecvUs).toBe(own[0]!.tsRecvUs);
        taken += own.length;
      }
      expect(taken, `seed ${seed}`).toBe(written.length);
      expect(w.files.length, `seed ${seed}`).toBeGreaterThan(2);
      closedHeads += w.files.filter((f) => readCapture(f).records.some((h) => h.url === "ws:closedset")).length;
    }
    expect(closedHeads, "some file begins with books closed").toBeGreaterThan(0);
  });
});
