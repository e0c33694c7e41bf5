/**
 * core/late-rounds.ts on real time (it reads performance.now(), so a stall is this thread kept busy): a round more
 * than STALL_LATE_MS later than its interval judges nothing, the next one judges even when late too (an overloaded
 * thread still judges every other round), and onTime() says whether a verdict asked between rounds may judge.
 */
import { describe, expect, test } from "vitest";
import { LateRounds, STALL_LATE_MS } from "../../src/core/late-rounds.ts";
import { stallThread } from "../support/stall-thread.ts";

const INTERVAL_MS = 1000; // long: a loaded machine must not make the rounds meant to be on time late
const LATE = INTERVAL_MS + STALL_LATE_MS + 50;

describe("LateRounds", () => {
  test("a stall before the first round counts; late rounds judge every other time; onTime follows", () => {
    const r = new LateRounds(INTERVAL_MS);
    stallThread(LATE);
    expect(r.onTime()).toBe(false); // stalled now: a request must not judge
    expect(r.judge()).toBe(false); // the first round, after a stall since the timer started
    expect(r.onTime()).toBe(false); // that round judged nothing: the sockets may still be unread
    stallThread(LATE);
    expect(r.judge()).toBe(true); // late again, but never two skipped in a row
    expect(r.onTime()).toBe(true);
    stallThread(LATE);
    expect(r.judge()).toBe(false);
    expect(r.judge()).toBe(true); // on time
    expect(r.judge()).toBe(true);
    expect(r.skippedRounds).toBe(2);
  });
});
