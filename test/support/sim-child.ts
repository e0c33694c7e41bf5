/**
 * A simulator in a process of its own, for tests that must not share their thread with it (a simulator of huge
 * books whose every step is slow) or that stop it with SIGSTOP. Argument: JSON `{ venue, symbols, levels?, rate?,
 * seed? }`; prints one line `{"wsUrl":…,"restUrl":…}` once listening on 127.0.0.1, then runs until killed.
 * Start it with spawnSim (below).
 * @module
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

interface SimChildSpec {
  venue: "coinbase" | "okx";
  symbols: string[];
  levels?: number;
  rate?: number;
  seed?: number;
}

export interface SimChild {
  proc: ChildProcess;
  wsUrl: string;
  restUrl: string;
  stop(): Promise<void>;
}

/** Starts a simulator child process and resolves once it listens. */
export async function spawnSim(spec: SimChildSpec): Promise<SimChild> {
  const proc = spawn(process.execPath, [fileURLToPath(import.meta.url), JSON.stringify(spec)], { stdio: ["ignore", "pipe", "inherit"] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once("line", resolve);
    proc.once("exit", (code) => reject(new Error(`simulator process exited ${code} before listening`)));
  });
  const { wsUrl, restUrl } = JSON.parse(line) as { wsUrl: string; restUrl: string };
  return {
    proc,
    wsUrl,
    restUrl,
    stop: async () => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGCONT");
      proc.kill("SIGKILL");
      await exited;
    },
  };
}

async function main(spec: SimChildSpec): Promise<void> {
  const seed = spec.seed ?? 1;
  if (spec.venue === "coinbase") {
    const { startCoinbaseSimulator } = await import("../../src/sim/coinbase-sim.ts");
    const sim = await startCoinbaseSimulator({ products: spec.symbols, seed, levels: spec.levels, messagesPerSecond: spec.rate, heartbeatMs: 100 });
    console.log(JSON.stringify({ wsUrl: sim.wsUrl, restUrl: sim.restUrl }));
  } else {
    const { startOkxSimulator } = await import("../../src/sim/okx-sim.ts");
    const sim = await startOkxSimulator({ markets: [{ market: "spot", symbols: spec.symbols }], seed, messagesPerSecond: spec.rate });
    console.log(JSON.stringify({ wsUrl: sim.wsUrl, restUrl: sim.restUrl }));
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) void main(JSON.parse(process.argv[2]!) as SimChildSpec);
