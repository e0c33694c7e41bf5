/**
 * What the HTTP server echoes and logs of a request stays bounded however many or however long the requests:
 * - the 404 for no route names the path cut to 200 characters with an ellipsis (until 2026-12-07 the whole path:
 *   ~16 KB a request, attacker-chosen, into the answer);
 * - the "HTTP server error" line (a handler that failed so badly that its own catch threw) is rate-limited like
 *   "HTTP handler failed" (until 2026-12-07 one line per request).
 */
import { afterAll, beforeAll, expect, test } from "vitest";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import type { Logger } from "../../src/core/log.ts";
import { captureLog } from "../support/capture-log.ts";

const source: StatusSource = {
  book: () => undefined,
  metricsText: async () => {
    throw new Error("metrics failed");
  },
  readiness: () => ({ books: [], unresolved: [], connections: [], workersDown: [] }),
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

const captured = captureLog();
const { lines } = captured;
// The handler's catch fails in turn when its own line cannot be logged (a logger that throws), so Bun's error hook
// answers: the one way left to reach it since the catch describes any thrown value without throwing (2026-12-07;
// before, a thrown value with no string form made `String(err)` there throw).
const log: Logger = {
  ...captured.log,
  error: (msg, fields) => {
    if (msg === "HTTP handler failed") throw new Error("the log cannot be written");
    captured.log.error(msg, fields);
  },
};
let http: HttpServerHandle;
beforeAll(() => {
  http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined, idleTimeoutS: 10 }, source, log);
});
afterAll(async () => {
  await http?.stop();
});

test("the 404 for no route names the path cut to 200 characters and an ellipsis", async () => {
  const path = `/${"a".repeat(5000)}`;
  const res = await fetch(`${http.url}${path}`);
  expect(res.status).toBe(404);
  expect(await res.json()).toEqual({ error: `no route ${path.slice(0, 200)}…` });
  const short = await fetch(`${http.url}/nothing-here`);
  expect(await short.json()).toEqual({ error: "no route /nothing-here" });
});

test("the server-error line is rate-limited: one line for many failing requests, counted", async () => {
  for (let i = 0; i < 5; i++) expect((await fetch(`${http.url}/metrics`)).status).toBe(500);
  const errors = lines.filter((l) => l.msg === "HTTP server error");
  expect(errors).toHaveLength(1);
  expect(errors[0]!.fields).toMatchObject({ count: 1, total: 1 });
});
