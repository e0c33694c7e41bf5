/**
 * The publish guard on a wall clock stepped back (an NTP step, a resumed VM). Its clock was Date.now(): an hour's
 * step back put a stranger's first-seen time an hour ahead (not confirmed, so not reported, /readyz ready, for the
 * hour) and the last error line's time too (the next conflict not logged for the hour). Its default clock is now
 * the monotonic one. Real datagrams on loopback (interface 127.0.0.1, TTL 1); Date.now stubbed an hour behind.
 */
import { afterEach, describe, expect, test, vi } from "vitest";
import { PublishGuard } from "../../src/app/publish-guard.ts";
import { validateConfig } from "../../src/config/load.ts";
import { waitFor } from "../e2e/harness.ts";
import { captureLog } from "../support/capture-log.ts";
import { guardDatagram as datagram, guardSender } from "./support/guard-datagram.ts";
import { uniqueDestination } from "../support/destination.ts";

const GROUP = `239.255.49.${1 + (process.pid % 250)}`;
const PORT = uniqueDestination(469).port; // below the ephemeral ports (test/support/destination.ts)

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  while (cleanups.length > 0) await cleanups.pop()!();
});

async function start(port: number) {
  const { log, lines } = captureLog();
  const config = validateConfig({
    publish: { heartbeat_interval_ms: 100, startup_listen_ms: 0, destinations: [{ group: GROUP, port, interface: "127.0.0.1", channel: 4 }] },
  }, { requireVenue: false });
  const guard = new PublishGuard(config, log);
  guard.addOwnSession(0, 1);
  await guard.listenBeforePublishing();
  guard.startWatching();
  cleanups.push(() => guard.stop());
  const { send } = await guardSender(guard, GROUP, port, cleanups);
  return { guard, lines, send };
}

/** Date.now from here on, stepped back by `back.ms` (set later): stubbed before the guard takes its clock. */
function wallClock(): { ms: number } {
  const back = { ms: 0 };
  const realNow = Date.now.bind(Date);
  vi.spyOn(Date, "now").mockImplementation(() => realNow() - back.ms);
  return back;
}

describe("publish guard on a clock stepped back", { timeout: 20_000 }, () => {
  test("a stranger first seen just before an hour's step back is still reported", async () => {
    const back = wallClock();
    const { guard, send } = await start(PORT);
    await send(datagram(5));
    back.ms = 3_600_000;
    await waitFor(() => guard.conflicts().length === 1, "the stranger reported within 5 s of the step", 5_000, () => void send(datagram(5)));
    expect(guard.conflictsDetected).toBe(1);
  });
});
