/**
 * HTTP connections cannot take the process's last file descriptors (src/app/http-fd-guard.ts). Bun.serve has no
 * connection cap: a client opening connections faster than the timeouts close them held every descriptor, and then
 * no venue connection or capture file could be opened. The descriptor count is injected here (no flood in a test):
 * at 75 % of the limit the server stops accepting (a new connection is refused, an idle one closed, a request being
 * answered finished); below 50 % it accepts again, on the same port.
 */
import { afterAll, expect, test } from "vitest";
import { connect, createServer, type Socket } from "node:net";
import { fdSoftLimit } from "../../src/app/http-fd-guard.ts";
import { openFdCount } from "../../src/app/fd-count.ts";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { createLogger } from "../../src/core/log.ts";

/** /metrics answers once the test lets it: a request in flight across the stop. */
let metricsHeld = Promise.withResolvers<string>();
let metricsAsked = false;
const source: StatusSource = {
  book: () => undefined,
  metricsText: () => ((metricsAsked = true), metricsHeld.promise),
  readiness: () => ({ books: [], unresolved: [], connections: [], workersDown: [] }),
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

let server: HttpServerHandle | undefined;
afterAll(async () => {
  await server?.stop();
});

/** Connects and sends one request head; resolves with the answer's status line, or the connection error's code. */
function ask(port: number, socket?: Socket, path = "/healthz"): Promise<string> {
  return new Promise((resolve) => {
    const s = socket ?? connect(port, "127.0.0.1");
    let got = "";
    const onData = (d: Buffer) => {
      got += d.toString();
      if (got.includes("\r\n")) {
        s.off("data", onData);
        resolve(got.slice(0, got.indexOf("\r\n")));
        if (!socket) s.destroy();
      }
    };
    s.on("data", onData);
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    s.once("close", () => resolve("closed"));
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 10_000; !(await check()); await Bun.sleep(10)) {
    if (Date.now() > deadline) throw new Error(`not within 10 s: ${what}`);
  }
}

test("at 75 % of the descriptor limit new connections are refused, idle ones closed, requests in flight answered; below 50 % it accepts again", async () => {
  let fds = 10;
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
  server = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false } as never, source, log, { openFds: () => fds, fdLimit: 100, checkEveryMs: 10 });
  const port = server.port;
  expect(await ask(port)).toBe("HTTP/1.1 200 OK");
  const idle = connect(port, "127.0.0.1");
  expect(await ask(port, idle)).toBe("HTTP/1.1 200 OK"); // a keep-alive connection, idle from then on
  const idleClosed = new Promise((resolve) => idle.once("close", resolve));
  const inFlight = ask(port, undefined, "/metrics");
  await until("/metrics in flight", async () => metricsAsked);

  fds = 75;
  await until("new connections refused", async () => (await ask(port)) === "ECONNREFUSED");
  // Probes too, by design (docs/operations.md, "Probes while the guard holds"): the kernel refuses before any request
  // is read, so a probe cannot be told from the flood's connections; nothing is kept back for them.
  expect(await ask(port, undefined, "/readyz")).toBe("ECONNREFUSED");
  expect(lines.some((l) => l.includes("HTTP stopped accepting connections") && l.includes('"openFds":75') && l.includes('"limit":100') && l.includes("/healthz and /readyz are refused too"))).toBe(true);
  await idleClosed; // its descriptor freed at once, not at the idle timeout
  metricsHeld.resolve("");
  expect(await inFlight).toBe("HTTP/1.1 200 OK");
  metricsHeld = Promise.withResolvers<string>();
  metricsHeld.resolve("");

  fds = 49;
  await until("connections accepted again", async () => (await ask(port)) === "HTTP/1.1 200 OK");
  expect(lines.some((l) => l.includes("HTTP accepting connections again"))).toBe(true);
  expect(await ask(port, undefined, "/metrics")).toBe("HTTP/1.1 200 OK");
  expect(await ask(port, undefined, "/readyz")).toMatch(/^HTTP\/1\.1 (200|503) /); // answered again (503 here: no books)
});

test("the port taken by another process while HTTP did not listen: retried at each check, logged once (not a line per check), listening again once the port is free", async () => {
  let fds = 10;
  let checks = 0;
  const lines: string[] = [];
  const log = createLogger({ level: "info", format: "json", write: (l) => lines.push(l) });
  const own = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false } as never, source, log, { openFds: () => (checks++, fds), fdLimit: 100, checkEveryMs: 10 });
  const taker = createServer((c) => c.end("HTTP/1.1 418 Taken\r\ncontent-length: 0\r\n\r\n"));
  try {
    const port = own.port;
    fds = 75;
    await until("new connections refused", async () => (await ask(port)) === "ECONNREFUSED");
    await new Promise<void>((resolve, reject) => taker.once("error", reject).listen(port, "127.0.0.1", resolve));
    fds = 49;
    const from = checks;
    await until("30 checks that could not listen", async () => checks >= from + 30);
    const failed = lines.filter((l) => l.includes("HTTP could not listen again"));
    // Before: one error line per check (one a second in production, for as long as the port was held).
    expect(failed.length, failed.join("\n")).toBe(1);
    expect(failed[0]).toContain(`port ${port}: `);
    expect(await ask(port)).toBe("HTTP/1.1 418 Taken"); // the process that took the port answers meanwhile

    taker.close();
    await until("connections accepted again", async () => (await ask(port)) === "HTTP/1.1 200 OK");
    expect(lines.some((l) => l.includes("HTTP accepting connections again"))).toBe(true);
  } finally {
    taker.close();
    await own.stop();
  }
});

test("stopped while not accepting: no check runs after stop(), the port is not listened on again", async () => {
  let fds = 10;
  let checks = 0;
  const held = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false } as never, source, createLogger({ level: "error", format: "json", write: () => {} }), { openFds: () => (checks++, fds), fdLimit: 100, checkEveryMs: 10 });
  const port = held.port;
  fds = 75;
  await until("new connections refused", async () => (await ask(port)) === "ECONNREFUSED");
  await held.stop();
  const atStop = checks;
  fds = 10;
  // Counted, not slept: another server's checks on the same 10 ms period run 20 times meanwhile.
  let otherChecks = 0;
  const other = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false } as never, source, createLogger({ level: "error", format: "json", write: () => {} }), { openFds: () => (otherChecks++, 10), fdLimit: 100, checkEveryMs: 10 });
  try {
    await until("20 checks of another server", async () => otherChecks >= 20);
    expect(checks).toBe(atStop);
    expect(await ask(port)).toBe("ECONNREFUSED");
  } finally {
    await other.stop();
  }
});

test("counted from the directory's size where the kernel gives it (Linux 6.2+: nothing listed), listed where it gives 0", () => {
  let listed = 0;
  const dir = (size: number, entries: number | Error) => ({
    size: () => size,
    count: () => {
      listed++;
      if (entries instanceof Error) throw entries;
      return entries;
    },
  });
  // Before, the directory was always listed: a string per descriptor, once a second, on the pipeline's thread.
  expect(openFdCount(1_000, dir(48_000, 48_001))).toBe(48_000);
  expect(listed).toBe(0);
  expect(openFdCount(1_000, dir(0, 48_001))).toBe(48_001);
  expect(listed).toBe(1);
  // No descriptor left to list it with: the limit is reached.
  expect(openFdCount(1_000, dir(0, Object.assign(new Error("EMFILE"), { code: "EMFILE" })))).toBe(1_000);
});

test("the real count and limit: this process's descriptors are counted", () => {
  expect(fdSoftLimit()).toBeGreaterThan(0);
  expect(openFdCount(1_000_000)).toBeGreaterThan(2); // stdin, stdout, stderr at least
});
