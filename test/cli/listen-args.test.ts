/**
 * `feeder listen` options that would do nothing are refused, as elsewhere in the CLI (export's --depth without
 * --books, listen's --port without a portless group): --depth sets the levels of ndjson records, and the table shows
 * only each side's best, so `listen --depth 10` drew the same table as without it, silently.
 */
import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (t) => out.push(t), err: (t) => err.push(t) });
  return { code, out, err };
}

test("--depth with the table (the default format, or -f table) is refused, exit 2, before anything starts (before: ignored, exit 0)", async () => {
  const message = "feeder listen: --depth sets the levels of --format ndjson records; the table shows each side's best level only (see feeder listen --help)";
  expect(await run("listen", "--depth", "10", "--duration", "0.05")).toEqual({ code: 2, out: [], err: [message] });
  expect(await run("listen", "-f", "table", "-d", "3", "--duration", "0.05")).toEqual({ code: 2, out: [], err: [message] });
  expect(await run("listen", "-f", "ndjson", "-d", "3", "--duration", "0.05")).toMatchObject({ code: 0, err: [] });
});
