/**
 * attachNats on a JetStream stream that does not exist (a typo) rejects, and the caller has no reader to stop:
 * the reader left its NATS connection open, reconnecting forever, so a program that handled the error and went on
 * kept a connection (and never exited by itself). Now the connection is closed with the error (rev19).
 * Real parts: nats-server, a child process running attachNats and exiting once nothing is left to do.
 */
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { NatsServer, natsServerMissing } from "./nats-server.ts";

const missing = natsServerMissing();
const ROOT = join(import.meta.dirname, "../..");
let nats: NatsServer;

beforeAll(async () => {
  if (missing) return;
  nats = await NatsServer.start();
}, 30_000);

afterAll(async () => {
  await nats?.stop();
});

describe.skipIf(missing !== undefined)(`attachNats on a missing stream${missing ? ` (skipped: ${missing})` : ""}`, { timeout: 30_000 }, () => {
  test("rejects and leaves no connection behind: the program exits by itself", async () => {
    const script = `
      const { FeedSubscriber, attachNats } = await import(${JSON.stringify(join(ROOT, "src/subscriber/index.ts"))});
      const sub = new FeedSubscriber({ groups: [], staleAfterMs: 0 });
      try {
        await attachNats(sub, { servers: ${JSON.stringify(nats.url)}, prefix: "rev19r", stream: "NO_SUCH_STREAM", from: "all" });
        console.log("attached");
      } catch (err) {
        console.log("rejected: " + err.message);
      }
    `;
    const p = Bun.spawn([process.execPath, "-e", script], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const deadline = setTimeout(() => p.kill("SIGKILL"), 15_000); // before the fix it never exits by itself
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    clearTimeout(deadline);
    expect(out).toMatch(/^rejected: .*stream not found/im);
    expect(p.signalCode).toBeNull();
    expect(code).toBe(0);
  });
});
