/**
 * The publisher's timers and refresh failures are logged, never thrown, whatever was thrown: until 2026-12-07 their
 * lines described it with String(err), which throws for a value with no string form (Object.create(null)), so the
 * catch threw out of the timer (under Bun the process's end) or out of the refresh tick (the other books' skipped).
 */
import { expect, test } from "vitest";
import { PublisherRecovery } from "../../src/net/publisher-recovery.ts";
import type { PublishConfig } from "../../src/config/types.ts";
import type { BookView } from "../../src/core/book-view.ts";
import { captureLog } from "../support/capture-log.ts";

const NO_STRING_FORM = "a thrown [object Object] with no string form";
const view = { instrument: { venue: "okx", market: "spot", symbol: "BTC-USDT" } } as unknown as BookView;

/** The recovery's cold catches, reached as its timers and refresh reach them. */
interface Catches {
  guarded(tick: () => void): void;
  refreshFailed(view: BookView, err: unknown): void;
}

function recovery(onRefreshFailed?: (v: BookView, e: unknown) => void) {
  const { log, lines } = captureLog();
  const r = new PublisherRecovery({} as PublishConfig, [], { views: [] } as never, { messages: 0 }, () => undefined, log, onRefreshFailed);
  return { catches: r as unknown as Catches, lines };
}

test("a timer tick that throws a value with no string form: logged, not thrown", () => {
  const { catches, lines } = recovery();
  catches.guarded(() => {
    throw Object.create(null);
  });
  expect(lines.map((l) => [l.msg, l.fields.detail])).toEqual([["publisher timer failed; the next tick tries again", NO_STRING_FORM]]);
});

test("a refresh failure, and its handler's own failure, with no string form: logged, not thrown", () => {
  const plain = recovery();
  plain.catches.refreshFailed(view, Object.create(null));
  expect(plain.lines.map((l) => l.fields.detail)).toEqual([`okx spot BTC-USDT: ${NO_STRING_FORM}`]);
  const handled = recovery(() => {
    throw Object.create(null);
  });
  handled.catches.refreshFailed(view, new Error("refresh refused (test)"));
  expect(handled.lines.map((l) => l.fields.detail)).toEqual([`after a failed refresh of BTC-USDT: ${NO_STRING_FORM}`]);
});
