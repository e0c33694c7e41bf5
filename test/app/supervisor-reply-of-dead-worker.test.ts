/**
 * A worker that answers a status request and then dies while the supervisor still waits for another worker's reply.
 * The answer was put together from every reply once the last came, so the dead worker's reply was taken as it was:
 * /readyz counted its books live (ready, 200) and named no worker down, of a worker that had gone seconds before
 * (a slow worker's reply may take up to REPLY_MAX_MS, 10 s). Now a reply counts only from a worker still the slot's
 * when the answer is made; one gone since counts as down, as if it had not answered. Stand-in workers
 * (support/held-readyz-worker.ts); the slow one answers when the test says.
 */
import { expect, test } from "vitest";
import { Supervisor } from "../../src/app/supervisor.ts";
import { validateConfig } from "../../src/config/load.ts";
import type { BybitSim } from "../../src/sim/bybit-sim.ts";
import { captureLog } from "../support/capture-log.ts";
import { until } from "../support/until.ts";
import { rawConfig, uniqueDestination } from "../e2e/harness.ts";
import { HELD_READYZ_CHANNEL } from "./support/held-readyz-worker.ts";

test("a worker that died after its reply, while another's was awaited, counts as down in the answer", { timeout: 30_000 }, async () => {
  const { log, lines } = captureLog({ info: true });
  const sim = { wsUrl: "ws://127.0.0.1:9/", restUrl: "http://127.0.0.1:9" } as BybitSim; // never connected to
  const config = validateConfig(rawConfig({ sim, markets: [{ market: "linear", depth: 50, symbols: ["BTCUSDT", "ETHUSDT"] }], ...uniqueDestination(937), workers: 2 }));
  // The slow reply is released by the test: a silence bound generous enough for a loaded machine.
  const supervisor = new Supervisor(config, log, new URL("./support/held-readyz-worker.ts", import.meta.url).href, { replySilenceMs: 20_000 });
  const channel = new BroadcastChannel(HELD_READYZ_CHANNEL);
  let asked = false;
  channel.onmessage = (event) => void ((event.data as { ask?: string }).ask === "readyz" && (asked = true));
  try {
    await supervisor.start();
    const answer = supervisor.readyz();
    await until(() => asked, "worker 1 holding its readyz reply", 20_000);
    // Worker 0 answered at once: its reply taken (the slot's lastReplyMs set as it is) before it is killed.
    const slot0 = (supervisor as unknown as { slots: { lastReplyMs: number }[] }).slots[0]!;
    await until(() => slot0.lastReplyMs > 0, "worker 0's reply taken", 20_000);
    supervisor.kill(0);
    await until(() => lines.some((l) => l.msg === "worker killed; restarting" && l.fields.worker === 0), "worker 0 gone", 20_000);
    channel.postMessage({ go: true });
    const summary = await answer;
    // Before: { live: 2, workersDown: [] }: worker 0's books counted live, the worker gone.
    expect({ live: summary.live, workersDown: summary.workersDown }).toEqual({ live: 1, workersDown: [0] });
  } finally {
    channel.close();
    await supervisor.stop();
  }
});
