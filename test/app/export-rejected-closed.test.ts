/**
 * `feeder export --books`: a book refused for good (halted / subscribe_rejected) that its listing then closes
 * (`ws:closed`) gets a row halted / instrument_closed, as replay and live publish it (since s-rdstatus). Without the
 * export sink's restate its last row stayed subscribe_rejected. In process, a capture of handmade OKX records, the
 * instrument from an override (nothing fetched: REST on 127.0.0.1:9).
 */
import { expect, test } from "vitest";
import { exportCaptures } from "../../src/app/export.ts";
import { loadConfigFile } from "../../src/config/load.ts";
import { silentLogger } from "../../src/core/log.ts";
import { CaptureWriter } from "../../src/record/capture.ts";
import { makeTempDir } from "../support/temp-dirs.ts";
import { writeOfflineOkxConfig } from "../support/config-toml.ts";

const T0_US = 1_733_011_200_000_000;
const CONN = "conn0.spot";

test("a refused book closed by its listing gets a row halted / instrument_closed", async () => {
  const dir = makeTempDir("feeder-export-rejclosed-");
  const config = writeOfflineOkxConfig(dir, { group: "239.255.61.3", port: 46103 }, { "BTC-USDT": "0.1" });
  const w = new CaptureWriter({ dir, prefix: "okx" });
  w.writeRest(T0_US, "okx", "spot", CONN, "ws:open", "");
  w.writeRest(T0_US + 1, "okx", "spot", CONN, "ws:sockets", "");
  w.writeRest(T0_US + 2, "okx", "spot", CONN, `ws:req ${JSON.stringify(["s1", "subscribe", ["books:BTC-USDT"]])}`, "");
  w.write(T0_US + 3, "okx", "spot", CONN, JSON.stringify({ id: "s1", event: "error", code: "60018", msg: "Wrong URL or channel:books,instId:BTC-USDT doesn't exist." }));
  w.writeRest(T0_US + 4, "okx", "spot", CONN, "ws:closed", "books:BTC-USDT");
  w.close();
  let out = "";
  const result = await exportCaptures(w.files, { write: (c) => void (out += c), flush: () => undefined }, {
    format: "jsonl",
    books: { config: loadConfigFile(config), depth: 1, everyMs: 0 },
    log: silentLogger,
  });
  expect(result.skipped).toBe(0);
  const rows = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  // Before the export sink's restate: the refusal's row alone.
  expect(rows.map((r) => [r.symbol, r.state, r.reason])).toEqual([
    ["BTC-USDT", "halted", "subscribe_rejected"],
    ["BTC-USDT", "halted", "instrument_closed"],
  ]);
});
