/**
 * A real nats-server for the tests: `nats-server -a 127.0.0.1 -p <free port> -js -sd <tmpdir>`, started and stopped
 * by the test. Missing binary: under CI=true the test fails saying so (.ci/run installs it); elsewhere it is skipped
 * with the reason.
 */
import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { connect } from "node:net";
import { makeTempDir } from "../support/temp-dirs.ts";

export const NATS_BIN = process.env.NATS_SERVER_BIN ?? "nats-server";

export function natsServerMissing(): string | undefined {
  const r = spawnSync(NATS_BIN, ["--version"], { encoding: "utf8" });
  if (r.status === 0) return undefined;
  const why = `${NATS_BIN} not found (Debian package nats-server; .ci/run installs it)`;
  if (process.env.CI === "true") throw new Error(`CI: ${why}`);
  return why;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class NatsServer {
  readonly port: number;
  readonly storeDir: string;
  private proc: ReturnType<typeof Bun.spawn> | undefined;

  private constructor(port: number, storeDir: string) {
    this.port = port;
    this.storeDir = storeDir;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), makeTempDir("feeder-nats-"));
    await s.restart();
    return s;
  }

  /** (Re)starts the server on the same port and store directory; resolves once it accepts connections. */
  async restart(): Promise<void> {
    this.proc = Bun.spawn([NATS_BIN, "-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.storeDir], { stdout: "ignore", stderr: "ignore" });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (Date.now() > deadline || this.proc.exitCode !== null) throw new Error(`nats-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    p.kill("SIGTERM");
    await p.exited;
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, "127.0.0.1");
    c.once("connect", () => (c.destroy(), resolve(true)));
    c.once("error", () => resolve(false));
  });
}
