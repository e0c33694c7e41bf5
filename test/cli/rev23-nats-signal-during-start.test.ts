/**
 * `feeder bridge` and `feeder listen --nats` stopped while they connect to NATS. Before, neither looked at the
 * signal until the connect had ended: against a server that accepts the connection but never answers (a hung NATS,
 * a proxy) SIGTERM waited for the client's 20 s connect timeout and then exited 1 ("bridge could not start" /
 * "cannot read NATS"). Now the signal stops the start there and the command exits 0.
 */
import { afterEach, describe, expect, test } from "vitest";
import { join } from "node:path";
import { waitFor } from "../e2e/harness.ts";
import { exitCodeWithin } from "../support/exit-within.ts";

const ROOT = join(import.meta.dirname, "../..");
/** Generous bound for the child to exit (below the 20 s connect timeout the old code waited for, plus its exit 1). */
const EXIT_BOUND_MS = 30_000;

const stops: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (stops.length > 0) await stops.pop()!();
});

/** A TCP server on 127.0.0.1 that accepts every connection and never says a word (no NATS INFO). */
function silentServer(): { url: string; accepted: () => number } {
  let accepted = 0;
  const server = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => void accepted++, data: () => undefined } });
  stops.push(() => server.stop(true));
  return { url: `nats://127.0.0.1:${server.port}`, accepted: () => accepted };
}

const COMMANDS: Record<string, (url: string) => string[]> = {
  "bridge to-nats": (url) => ["bridge", "to-nats", "--nats", url, "-g", "239.255.23.1:31231", "--http", "127.0.0.1:0"],
  "bridge from-nats": (url) => ["bridge", "from-nats", "--nats", url, "-g", "239.255.23.2:31232", "--http", "127.0.0.1:0"],
  "listen --nats": (url) => ["listen", "--nats", url, "-f", "ndjson"],
};

describe("SIGTERM while connecting to a NATS server that does not answer", { timeout: 60_000 }, () => {
  for (const [name, args] of Object.entries(COMMANDS)) {
    test(`feeder ${name} stops there and exits 0`, async () => {
      const nats = silentServer();
      const proc = Bun.spawn([process.execPath, "src/cli/main.ts", ...args(nats.url)], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      stops.push(() => void proc.kill("SIGKILL"));
      await waitFor(() => nats.accepted() > 0, "the NATS connection accepted", 20_000);
      proc.kill("SIGTERM");
      const code = await exitCodeWithin(proc, EXIT_BOUND_MS);
      const stderr = await new Response(proc.stderr).text();
      expect(code, stderr).toBe(0);
      expect(stderr).toContain("stopped during start-up");
    });
  }
});
