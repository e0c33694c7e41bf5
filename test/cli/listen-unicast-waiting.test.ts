/**
 * The table's line while nothing has come, for `listen --bind ADDR:PORT` alone: it asked "is a feeder publishing to
 * this group, on this interface?", naming neither what was bound (no group, no interface joined) nor what sends there.
 */
import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { uniqueDestination } from "../support/destination.ts";

test("--bind alone: the waiting line asks for a unicast destination sending to ADDR:PORT, no group named", async () => {
  const { port } = uniqueDestination(7);
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["listen", "--bind", `127.0.0.1:${port}`, "--duration", "0.05"], { out: (t) => out.push(t), err: (t) => err.push(t) });
  expect({ code, err }).toEqual({ code: 0, err: [] });
  const text = out.join("").replace(/\s+/g, " ");
  expect(text).toContain(`waiting for the first datagram on unicast 127.0.0.1:${port} (is a feeder's unicast destination sending to this address and port?)`);
  expect(text).not.toContain("group");
});
