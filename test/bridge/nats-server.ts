/**
 * A real nats-server for the tests: `nats-server -a 127.0.0.1 -p <free port> -js -sd <tmpdir>`, started and stopped
 * by the test. Missing binary: under CI=true the test fails saying so (.ci/run installs it); elsewhere it is skipped
 * with the reason.
 */
import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { cpSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort } from "../support/free-port.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

export const NATS_BIN = process.env.NATS_SERVER_BIN ?? "nats-server";

export function natsServerMissing(): string | undefined {
  const r = spawnSync(NATS_BIN, ["--version"], { encoding: "utf8" });
  if (r.status === 0) return undefined;
  const why = `${NATS_BIN} not found (Debian package nats-server; .ci/run installs it)`;
  if (process.env.CI === "true") throw new Error(`CI: ${why}`);
  return why;
}

export class NatsServer {
  readonly port: number;
  readonly storeDir: string;
  private proc: ReturnType<typeof Bun.spawn> | undefined;
  /** Extra lines of a configuration file (e.g. `max_payload: 512`), or none. */
  private config: string | undefined;

  private constructor(port: number, storeDir: string, config?: string) {
    this.port = port;
    this.storeDir = storeDir;
    this.config = config;
  }

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /** `fn` with a JetStream manager on a connection of its own (closed after). */
  async withJsm<T>(fn: (jsm: Awaited<ReturnType<typeof import("@nats-io/jetstream").jetstreamManager>>) => Promise<T>): Promise<T> {
    const { connect } = await import("@nats-io/transport-node");
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const nc = await connect({ servers: this.url });
    try {
      return await fn(await jetstreamManager(nc));
    } finally {
      await nc.close();
    }
  }

  /** Waits until stream `name` reads back ending at sequence `seq` (its info read every 20 ms; not there yet: -1). */
  async streamAt(name: string, seq: number, timeoutMs = 10_000): Promise<void> {
    const lastSeq = () => this.withJsm((jsm) => jsm.streams.info(name)).then((i) => i.state.last_seq, () => -1);
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    while ((last = await lastSeq()) !== seq) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for stream ${name} at sequence ${seq} (it ends at ${last})`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Copies the store (`jetstream/`) while the server is stopped, then restarts it. The function returned puts that
   * copy back (server stopped, store replaced, restarted): the same streams as they were then, their later messages
   * lost (a file store losing its tail, or restored from an older copy). The copy sits in the store directory, removed
   * with it (the server reads only jetstream/).
   */
  async copyStore(): Promise<() => Promise<void>> {
    const store = join(this.storeDir, "jetstream");
    const copy = join(this.storeDir, "copy");
    await this.stop();
    cpSync(store, copy, { recursive: true });
    await this.restart();
    return async () => {
      await this.stop();
      rmSync(store, { recursive: true, force: true });
      cpSync(copy, store, { recursive: true });
      rmSync(copy, { recursive: true, force: true });
      await this.restart();
    };
  }

  static async start(config?: string): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), makeTempDir("feeder-nats-"), config);
    await s.restart();
    return s;
  }

  /**
   * (Re)starts the server on the same port and store directory; resolves once it accepts connections. `config`:
   * other configuration lines from now on ("" for none).
   */
  async restart(config?: string): Promise<void> {
    if (config !== undefined) this.config = config === "" ? undefined : config;
    const args = [NATS_BIN, "-a", "127.0.0.1", "-p", String(this.port), "-js", "-sd", this.storeDir];
    if (this.config !== undefined) {
      const file = join(this.storeDir, "server.conf");
      writeFileSync(file, this.config + "\n");
      args.push("-c", file);
    }
    this.proc = Bun.spawn(args, { stdout: "ignore", stderr: "ignore" });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (Date.now() > deadline || this.proc.exitCode !== null) throw new Error(`nats-server on port ${this.port} did not start`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Freezes the server (SIGSTOP): connections stay open, nothing is read: NATS slower than any feed. */
  pause(): void {
    this.proc?.kill("SIGSTOP");
  }

  resume(): void {
    this.proc?.kill("SIGCONT");
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = undefined;
    if (!p) return;
    p.kill("SIGCONT"); // a paused server would never see the SIGTERM
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
