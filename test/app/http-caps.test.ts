/**
 * The HTTP server under many or hostile clients, with real sockets on 127.0.0.1 (node:net for the raw ones):
 * - beyond http.max_in_flight requests being answered (held by the source, or a large answer its client does not
 *   read) a request is 503 with retry-after, while /healthz and /readyz are still answered; before, there was no
 *   bound: every non-reading client held another whole answer in memory until Bun's idle timeout;
 * - a request with a body is 413 and its connection closed; before, it was answered and Bun went on reading and
 *   discarding the body (GBs from one local client) on the feeder's thread;
 * - a flood of /readyz (never refused, ahead of the queue) holds no other answer back, and /readyz requests that
 *   arrive together share one evaluation.
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { startHttpServer, type HttpServerHandle, type StatusSource } from "../../src/app/http-server.ts";
import { silentLogger } from "../../src/core/log.ts";
import { waitFor } from "../e2e/harness.ts";

const MAX_IN_FLIGHT = 4;
/** /metrics answers: held ones wait for `release`; `big` ones are larger than loopback's socket buffers take in. */
let hold = 0;
let held = 0;
let release: () => void = () => {};
let released = Promise.resolve();
let big = false;
const BIG_TEXT = "x".repeat(48 * 2 ** 20);

const source: StatusSource = {
  book: () => undefined,
  metricsText: async () => {
    if (hold > 0) {
      hold--;
      held++;
      await released;
    }
    return big ? BIG_TEXT : "feeder_up 1\n";
  },
  readiness: () => ({ books: [], unresolved: [], connections: [], workersDown: [] }),
  latency: () => ({ receiptToSend: { boundsUs: [], counts: [0], count: 0, sumUs: 0 }, exchangeToReceipt: {} }),
};

let http: HttpServerHandle;
beforeAll(() => {
  http = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined, maxInFlight: MAX_IN_FLIGHT, idleTimeoutS: 10 }, source, silentLogger);
});
afterAll(async () => {
  await http?.stop();
});

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(http.port, "127.0.0.1", () => resolve(s));
    s.on("error", reject);
  });
}

/** Sends `path` on `s` and resolves with the response head; the body is then not read (the socket is paused). */
function headOnly(s: Socket, path: string): Promise<number> {
  return new Promise((resolve) => {
    let data = "";
    s.setEncoding("latin1");
    const onData = (d: string) => {
      data += d;
      if (!data.includes("\r\n\r\n")) return;
      s.off("data", onData);
      s.pause();
      resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)![1]));
    };
    s.on("data", onData);
    s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
  });
}

/** The probes and a data route, answered now. */
async function statuses(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const path of ["/healthz", "/readyz", "/status", "/books"]) {
    const r = await fetch(`${http.url}${path}`);
    out[path] = r.status;
    if (r.status === 503 && path !== "/readyz") expect(r.headers.get("retry-after"), path).toBe("1");
    await r.arrayBuffer();
  }
  return out;
}

/** Asks until `path` is answered 200 (a slot freed is seen by the server when it has read the close), with a deadline. */
async function answeredAgain(path: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = await fetch(`${http.url}${path}`);
    await r.arrayBuffer();
    if (r.status === 200) return;
    if (Date.now() > deadline) throw new Error(`${path} still ${r.status}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const REFUSED = { "/healthz": 200, "/readyz": 503, "/status": 503, "/books": 503 };

describe("HTTP bounds on many or hostile clients", { timeout: 60_000 }, () => {
  test("beyond max_in_flight requests waiting for their answer, a request is 503 and the probes are still answered", async () => {
    let resolveRelease!: () => void;
    released = new Promise((r) => (resolveRelease = r));
    release = resolveRelease;
    hold = MAX_IN_FLIGHT;
    held = 0;
    const waiting = Array.from({ length: MAX_IN_FLIGHT }, () => fetch(`${http.url}/metrics`));
    await waitFor(() => held === MAX_IN_FLIGHT, "the held requests in the source");
    const r = await fetch(`${http.url}/metrics`);
    expect(r.status).toBe(503);
    expect(await r.json()).toEqual({ error: `${MAX_IN_FLIGHT} requests are being answered (http.max_in_flight); retry` });
    // /readyz is answered (503 here only because this source has no books: not ready), not refused.
    expect(await statuses()).toEqual(REFUSED);
    expect(await (await fetch(`${http.url}/readyz`)).json()).toMatchObject({ ready: false });
    release();
    expect((await Promise.all(waiting)).map((x) => x.status)).toEqual(Array(MAX_IN_FLIGHT).fill(200));
    await answeredAgain("/metrics");
  });

  test("clients that do not read a large answer hold a slot each: beyond the bound 503, not another answer held", async () => {
    big = true;
    const readers: Socket[] = [];
    try {
      for (let i = 0; i < MAX_IN_FLIGHT; i++) {
        const s = await open();
        readers.push(s);
        expect(await headOnly(s, "/metrics"), `reader ${i}`).toBe(200);
      }
      const s = await open();
      const status = await headOnly(s, "/metrics");
      s.destroy();
      expect(status).toBe(503);
      expect(await statuses()).toEqual(REFUSED);
    } finally {
      big = false;
      for (const s of readers) s.destroy();
    }
    // The readers gone, their slots are free again.
    await answeredAgain("/metrics");
  });

  test("a request with a body is 413 and its connection closed: the body is not read on", async () => {
    const LIMIT = 256 * 2 ** 20;
    for (const [name, head] of [
      ["content-length", "Content-Length: 4000000000\r\n"],
      ["chunked", "Transfer-Encoding: chunked\r\n"],
    ] as const) {
      const s = await open();
      const chunk = Buffer.alloc(2 ** 20, 97);
      const piece = name === "chunked" ? Buffer.concat([Buffer.from("100000\r\n"), chunk, Buffer.from("\r\n")]) : chunk;
      let answer = "";
      let sent = 0;
      s.setEncoding("latin1");
      s.on("data", (d: string) => (answer += d));
      s.on("error", () => {}); // EPIPE / ECONNRESET once the server has closed
      const closed = new Promise<void>((resolve) => s.on("close", () => resolve()));
      let open_ = true;
      void closed.then(() => (open_ = false));
      s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n${head}\r\n`);
      // Written as fast as the server takes it, until it closes or has taken LIMIT bytes of body.
      while (open_ && sent < LIMIT) {
        sent += piece.length;
        if (!s.write(piece)) await Promise.race([new Promise((r) => s.once("drain", r)), closed]);
      }
      s.destroy();
      await closed;
      expect(answer.split("\r\n")[0], name).toBe("HTTP/1.1 413 Payload Too Large");
      expect(answer, name).toContain("a request body is not accepted");
      expect(sent, `${name}: body bytes the server took before it closed`).toBeLessThan(LIMIT);
    }
    expect((await fetch(`${http.url}/healthz`)).status).toBe(200);
  });

  test("a request whose Content-Length is zero, written any way, has no body and is answered", async () => {
    for (const length of ["0", "00", "000"]) {
      const s = await open();
      let answer = "";
      s.setEncoding("latin1");
      s.on("data", (d: string) => (answer += d));
      const ended = new Promise<void>((resolve) => s.on("close", () => resolve()));
      s.write(`GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${length}\r\nConnection: close\r\n\r\n`);
      await ended;
      // Before, "00" (a valid length of no body, passed on by Bun as written) was 413 and the connection closed.
      expect(answer.split("\r\n")[0], `Content-Length: ${length}`).toBe("HTTP/1.1 200 OK");
    }
  });
});

/** A flood of /readyz from another process (as a scraper's would be): CLIENTS loops, each asking again once answered, until killed. */
function floodFrom(url: string, clients: number) {
  const script = `
    const url = ${JSON.stringify(url)};
    for (let i = 0; i < ${clients}; i++) (async () => { for (;;) { try { await (await fetch(url)).arrayBuffer(); } catch {} } })();
  `;
  return Bun.spawn([process.execPath, "-e", script], { stdout: "ignore", stderr: "ignore" });
}

describe("/readyz floods", { timeout: 60_000 }, () => {
  test("/readyz requests that arrive together share one evaluation of readiness", async () => {
    let reads = 0;
    const countingSource: StatusSource = { ...source, readiness: () => (reads++, source.readiness()) };
    const server = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined }, countingSource, silentLogger);
    const sockets: Socket[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        sockets.push(await new Promise<Socket>((resolve, reject) => {
          const s = connect(server.port, "127.0.0.1", () => resolve(s));
          s.on("error", reject);
        }));
      }
      const answers = sockets.map(
        (s) =>
          new Promise<string>((resolve) => {
            let data = "";
            s.setEncoding("latin1");
            s.on("data", (d: string) => (data += d));
            s.on("end", () => resolve(data));
          }),
      );
      for (const s of sockets) s.write("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"); // in one go
      const heads = (await Promise.all(answers)).map((a) => a.split("\r\n")[0]);
      expect(heads).toEqual(Array(20).fill("HTTP/1.1 503 Service Unavailable")); // answered: not ready (no books)
      // Written together, they reach the server in one or two reads of its sockets: before, 20 evaluations.
      expect(reads, "readiness evaluations for 20 /readyz").toBeLessThanOrEqual(3);
    } finally {
      for (const s of sockets) s.destroy();
      await server.stop();
    }
  });

  test("a flood of /readyz (never refused, ahead of the queue) does not starve the other answers", async () => {
    let reads = 0;
    const countingSource: StatusSource = { ...source, readiness: () => (reads++, source.readiness()) };
    const server = startHttpServer({ enabled: true, host: "127.0.0.1", port: 0, allowNonLoopback: false, bearerToken: undefined, maxInFlight: 1000 }, countingSource, silentLogger);
    // The connection /metrics is asked on is opened (and kept alive) before the flood.
    expect((await fetch(`${server.url}/metrics`)).status).toBe(200);
    const flood = floodFrom(`${server.url}/readyz`, 200);
    try {
      await waitFor(() => reads >= 300, "the flood under way", 30_000);
      const readsBefore = reads;
      const r = await fetch(`${server.url}/metrics`);
      const during = reads - readsBefore;
      expect(r.status).toBe(200);
      // Every /readyz waiting for a turn shares it, and the turn after a check's is the queue's: while /metrics
      // waited, a few evaluations (each a turn). Before, each /readyz had a turn of its own ahead of the queue for
      // as long as any waited (200 clients: 681 and 1,065 evaluations on the old code). Under CI load (load 20 on
      // two cores) the new code took 47 once: the bound leaves room for that and stays far below the old counts.
      expect(during, "readiness evaluations while /metrics waited").toBeLessThan(150);
    } finally {
      flood.kill();
      await flood.exited;
      await server.stop();
    }
  });
});
