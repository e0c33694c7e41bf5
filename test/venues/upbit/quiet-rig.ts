/**
 * The proxied Upbit / Bithumb venue with the adapter on the test's clock (quiet.test.ts's rig, shared with
 * stale-ask.test.ts): housekeeping rounds and paced writes run by hand, one step at a time.
 */
import { silentLogger } from "../../../src/core/log.ts";
import type { CommonAdapterOptions } from "../../../src/venues/venue.ts";
import { until } from "../planned-fallback-harness.ts";
import type { WsProxy } from "../ws-proxy.ts";
import { recorder, startProxiedUpbit } from "./proxied.ts";

export const OPTIONS = { log: silentLogger, staleAfterMs: () => 300, housekeepingMs: 20, resendMinMs: 50 };
export const STEP_MS = 50;
/** KRW-BTC's book moves every this many steps (200 ms, under the 300 ms stale time: it is never asked again). */
export const BTC_EVERY = 4;
/** 'goes STALE': every step, so the capture holds a record every 50 ms and pins replay's verdict between two. */
export const BTC_EVERY_STEP = 1;

type Lifecycle = { housekeeping: ReturnType<typeof setInterval> | null; rounds: { judge(): boolean }; onHousekeeping(): void };
type Control = { flush(): void; write(...a: unknown[]): void };

/**
 * The proxied venue with the adapter on the test's clock and a still simulator (no books of its own): its
 * housekeeping rounds run by hand, each after the clock moves STEP_MS (KRW-BTC's book moved by sim.step every
 * BTC_EVERY) and the requests the pacing then allows are written. `step()` waits (real time, the clock still) for
 * that book and, when a request went, for KRW-XRP's answer: the venue answers at once on the adapter's clock and the
 * capture holds each frame at that time, so no load on this machine moves a verdict (before, on the wall clock, a
 * loaded machine's answer came past the 150 ms window, live's or replay's). A step with nothing sent waits for
 * nothing. Before, the simulator ran in real time (100 books/s) and each of ~200 10 ms steps waited for a generated
 * KRW-BTC book: under CPU load past the test's timeout. `dropXrp()` true: the proxy drops KRW-XRP's frames (a
 * subscription the venue no longer serves) and a step waits for its answer's drop instead. `xrpDown`: each KRW-XRP
 * frame rewritten on the way (null: dropped, as by dropXrp). `options`: the adapter's, over OPTIONS.
 */
export async function onTestClock(
  venue: "upbit" | "bithumb",
  cleanups: (() => Promise<void>)[],
  { btcEvery = BTC_EVERY, dropXrp = (): boolean => false, xrpDown = (f: string): string | null => f, options = {} as Partial<CommonAdapterOptions> } = {},
) {
  let clockMs = 1_000_000;
  let droppedXrp = 0;
  const rec = recorder(() => clockMs * 1000);
  const rewriteDown = (f: string) => {
    if (!f.includes('"KRW-XRP"')) return f;
    const down = dropXrp() ? null : xrpDown(f);
    if (down === null) droppedXrp++;
    return down;
  };
  const prepare = (p: WsProxy) => void p.byIndex.set(0, { rewriteDown });
  const run = await startProxiedUpbit(venue, { seed: 3, quiet: ["KRW-XRP"] }, prepare, { ...OPTIONS, ...options, now: () => clockMs, ...rec.taps }, cleanups);
  const { lifecycle: lc, control } = run.adapter as unknown as { lifecycle: Lifecycle; control: Control };
  clearInterval(lc.housekeeping!);
  lc.housekeeping = null;
  lc.rounds = { judge: () => true };
  let written = 0;
  const write = control.write.bind(control);
  control.write = (...a) => {
    written++;
    write(...a);
  };
  const link = run.proxy.links[0]!;
  const base = link.fromClient.length; // the subscribe: answered before the books were equal
  const frames = (code: string) => rec.records.filter((r) => r.frame?.includes(`"${code}"`)).length;
  let steps = 0;
  const step = async () => {
    const [sent, btc, xrp] = [link.fromClient.length, frames("KRW-BTC"), frames("KRW-XRP") + droppedXrp];
    const btcMoves = steps++ % btcEvery === 0;
    clockMs += STEP_MS;
    if (btcMoves) run.sim.step(1, "KRW-BTC");
    control.flush();
    lc.onHousekeeping();
    // Each request (the whole list) draws both codes' SNAPSHOTs, KRW-BTC's first: a dropped KRW-XRP answer does not
    // say the adapter read KRW-BTC's, so that is waited for too (else read, and recorded, some steps later).
    await until(() => {
      if (link.fromClient.length < base + written) return false;
      const asked = link.fromClient.slice(sent).filter((f) => f.includes('"orderbook"')).length;
      return frames("KRW-BTC") >= btc + (btcMoves ? 1 : 0) + asked && frames("KRW-XRP") + droppedXrp >= xrp + asked;
    }, "the proxy has what the adapter wrote, KRW-BTC's book, both codes' answers to a request");
  };
  return { ...run, rec, step, droppedXrp: () => droppedXrp, clockMs: () => clockMs };
}

/** Requests the pacing queued (SubscriptionControl.paced). */
export const pacedRequests = (adapter: object) => (adapter as unknown as { control: { paced: number } }).control.paced;
