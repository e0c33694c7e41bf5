import { afterAll, describe, expect, it } from "vitest";
import { addTurnEndHook, armTurnEnd, nowUs, turnReceiptUs } from "../../src/core/clock.ts";

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("turnReceiptUs", () => {
  it("gives every call of one event-loop turn the time of the first, and a new time in a later turn", async () => {
    const first = turnReceiptUs();
    const spinUntil = nowUs() + 50;
    while (nowUs() < spinUntil); // time passes inside the turn
    expect(turnReceiptUs()).toBe(first);
    await nextTurn();
    const later = turnReceiptUs();
    expect(later).toBeGreaterThanOrEqual(spinUntil);
    expect(turnReceiptUs()).toBe(later);
  });

  it("is fresh even when the turn's end was armed earlier in the same turn by something else", async () => {
    await nextTurn();
    armTurnEnd(); // e.g. the publisher scheduling a flush from a timer before any input in this turn
    const spinUntil = nowUs() + 30;
    while (nowUs() < spinUntil);
    expect(turnReceiptUs()).toBeGreaterThanOrEqual(spinUntil);
  });

  it("turn-end hooks run once per armed turn, however often it was armed, and not in turns nobody armed", async () => {
    let runs = 0;
    const remove = addTurnEndHook(() => runs++);
    try {
      await nextTurn();
      const base = runs; // earlier tests may have armed the previous turn
      await nextTurn();
      expect(runs).toBe(base); // nobody armed that one
      armTurnEnd();
      armTurnEnd();
      turnReceiptUs();
      await nextTurn();
      expect(runs).toBe(base + 1);
    } finally {
      remove();
    }
    armTurnEnd();
    const before = runs;
    await nextTurn();
    expect(runs).toBe(before); // removed
  });

  describe("over a real WebSocket", () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response("upgrade", { status: 400 })),
      websocket: {
        message(ws, msg) {
          // One corked write: the client reads the five frames together; then one more frame, 20 ms later.
          if (msg === "go") {
            ws.cork(() => {
              for (let i = 0; i < 5; i++) ws.send(`burst${i}`);
            });
            setTimeout(() => ws.send("later"), 20);
          }
        },
      },
    });
    afterAll(() => server.stop(true));

    it("stamps the frames of one socket read with one receipt time, and a later read with a later one", async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}`);
      const seen: { data: string; recvUs: number; callbackUs: number }[] = [];
      const done = new Promise<void>((resolve, reject) => {
        ws.onopen = () => ws.send("go");
        ws.onerror = () => reject(new Error("websocket error"));
        ws.onmessage = (e) => {
          seen.push({ data: String(e.data), recvUs: turnReceiptUs(), callbackUs: nowUs() });
          const spinUntil = nowUs() + 20; // each frame's handling takes time, as in the feeder
          while (nowUs() < spinUntil);
          if (e.data === "later") resolve();
        };
      });
      await done;
      ws.close();
      expect(seen.map((s) => s.data)).toEqual(["burst0", "burst1", "burst2", "burst3", "burst4", "later"]);
      const burst = seen.slice(0, 5);
      expect(new Set(burst.map((s) => s.recvUs)).size).toBe(1);
      expect(burst[4]!.callbackUs - burst[0]!.recvUs).toBeGreaterThanOrEqual(80); // the wait behind the others counts
      expect(seen[5]!.recvUs).toBeGreaterThan(burst[0]!.recvUs + 10_000);
    });
  });
});
