/**
 * Helpers shared by bench/e2e.bench.ts and bench/workers.bench.ts (and their children): child processes spoken to
 * with JSON lines,
 * a per-run loopback multicast destination (used by every bench that multicasts), percentiles of raw samples, and the kernel's UDP receive-buffer drops.
 * @module
 */
import type { Subprocess } from "bun";
import { openSync, readFileSync, readSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The child's side of Child: the parent's JSON commands from stdin, one object per line, in order. */
export async function* parentCommands<T>(): AsyncGenerator<T> {
  let buf = "";
  for await (const chunk of Bun.stdin.stream()) {
    buf += new TextDecoder().decode(chunk);
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line !== "") yield JSON.parse(line) as T;
    }
  }
}

/** A Bun child process: JSON commands on stdin, one JSON reply per line on stdout. */
export class Child {
  private buf = "";
  private readonly lines: string[] = [];
  private waiters: ((line: string) => void)[] = [];
  private constructor(private readonly proc: Subprocess<"pipe", "pipe", "inherit">) {
    void this.pump();
  }

  /** `onParentCpus`: ignore E2E_CHILD_CPUS and run where this process runs (a contender measured like the feeder). */
  /** `prefix`: a command the child runs under (e.g. `chrt -b 0`). */
  static async spawn(args: string[], onParentCpus = false, prefix: string[] = []): Promise<Child> {
    // E2E_CHILD_CPUS=0 (with the bench itself under `taskset -c 1`) keeps the source and the subscriber off the
    // feeder's core, so the feeder's latency is not its wait for a CPU.
    const pin = process.env.E2E_CHILD_CPUS && !onParentCpus ? ["taskset", "-c", process.env.E2E_CHILD_CPUS] : [];
    const proc = Bun.spawn([...pin, ...prefix, process.execPath, ...args], { stdin: "pipe", stdout: "pipe", stderr: "inherit", env: process.env });
    return new Child(proc);
  }

  private async pump(): Promise<void> {
    const dec = new TextDecoder();
    for await (const chunk of this.proc.stdout) {
      this.buf += dec.decode(chunk);
      let nl: number;
      while ((nl = this.buf.indexOf("\n")) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        if (!line.startsWith("{")) {
          console.log(`[child] ${line}`);
          continue;
        }
        const w = this.waiters.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    }
  }

  /** The next JSON line from the child. */
  async next(timeoutMs = 60_000): Promise<Record<string, unknown>> {
    const line =
      this.lines.shift() ??
      (await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error("child did not answer in time")), timeoutMs);
        this.waiters.push((l) => {
          clearTimeout(timer);
          resolve(l);
        });
      }));
    return JSON.parse(line) as Record<string, unknown>;
  }

  async ask(cmd: Record<string, unknown>, timeoutMs = 120_000): Promise<Record<string, unknown>> {
    this.proc.stdin.write(JSON.stringify(cmd) + "\n");
    this.proc.stdin.flush();
    if (cmd.cmd === "quit") return {};
    return this.next(timeoutMs);
  }

  get pid(): number {
    return this.proc.pid;
  }

  kill(): void {
    this.proc.kill();
  }
}

/**
 * 239.255.x.y and a port from this process id and `seed` (one per destination of a run), so runs and concurrent
 * test files do not share a group: every bench takes its destinations here (test/bench-smoke runs them beside other
 * test files). Groups 239.255.180–239.x and ports 10000–19999 are outside those the test files use
 * (test/support/destination.ts uniqueDestination: 239.255.60–159.x, ports 20000–31999 and a few above; fixed
 * groups: 239.255.0–49.x). The ports are below Linux's ephemeral range (32768–60999), where any other process's
 * sender could hold one.
 */
export function loopbackDestination(seed: number): { group: string; port: number } {
  const pid = process.pid;
  return { group: `239.255.${180 + ((pid + seed) % 60)}.${1 + (pid % 250)}`, port: 10_000 + ((pid * 7 + seed * 131) % 10_000) };
}

/**
 * The highest paced phase carried with nothing lost, among those before the first that lost anything. A rate the
 * source did not reach (it sent < 90 % of it: a busy machine) was not carried at that rate, lost or not.
 */
export function highestCarried<T extends { rate: number; noLoss: boolean }>(phases: readonly T[], sentPerSec: (p: T) => number): T | undefined {
  const firstLoss = phases.findIndex((p) => !p.noLoss);
  return (firstLoss < 0 ? phases : phases.slice(0, firstLoss)).filter((p) => sentPerSec(p) >= p.rate * 0.9).at(-1);
}

/**
 * A rate's verdict over all its A/B rounds (feeder vs floor): lost or behind if any round was, naming those rounds
 * (1-based), so a loss in round 2 of 8 is not hidden behind round 1's figures.
 */
export function overRounds(rounds: readonly { noLoss: boolean; keptUp: boolean }[]): { noLoss: boolean; keptUp: boolean; lossRounds: number[]; behindRounds: number[] } {
  const lossRounds = rounds.flatMap((r, i) => (r.noLoss ? [] : [i + 1]));
  const behindRounds = rounds.flatMap((r, i) => (r.keptUp ? [] : [i + 1]));
  return { noLoss: rounds.length > 0 && lossRounds.length === 0, keptUp: rounds.length > 0 && behindRounds.length === 0, lossRounds, behindRounds };
}

/**
 * An A/B rate's entry in bench/e2e.bench.ts's throughput and latency tables: round 1's figures (AB_PHASE_MS long),
 * with "no loss" and "kept up" over every round, so a loss in any round stops the step-up and reaches the verdicts.
 */
export function abRate<T extends { rate: number; noLoss: boolean; keptUp: boolean; row: Record<string, unknown> }>(rounds: readonly T[]): T {
  const first = rounds[0]!;
  const v = overRounds(rounds);
  const lost = rounds.reduce((t, r) => t + (r.row.lost as number), 0);
  return {
    ...first,
    noLoss: v.noLoss,
    keptUp: v.keptUp,
    row: {
      // "lost, all rounds" right after round 1's "lost".
      ...Object.fromEntries(Object.entries(first.row).flatMap(([k, x]) => (k === "lost" ? [[k, x], ["lost, all rounds", lost]] : [[k, x]]))),
      "rate (target)": `${first.rate / 1000}k/s (A/B round 1 of ${rounds.length})`,
      "no loss": v.noLoss ? "yes" : `NO (round ${v.lossRounds.join(", ")})`,
      "kept up": v.keptUp ? "yes" : `NO (round ${v.behindRounds.join(", ")})`,
    },
  };
}

/** Percentiles of raw samples (sorts a copy). */
export function pct(values: Float64Array): Record<string, number> {
  const n = values.length;
  const s = Float64Array.from(values).sort();
  const q = (f: number) => (n === 0 ? NaN : s[Math.min(n - 1, Math.floor((n - 1) * f))]!);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  return { n, p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: n ? s[n - 1]! : NaN, mean: sum / n };
}

/**
 * Context switches of this process's main thread (/proc/self/status: the thread group leader's own counts): an
 * involuntary one is a preemption (another task given this CPU while the thread could still run). NaN off Linux.
 */
export function mainThreadCtxSwitches(): { voluntary: number; involuntary: number } {
  try {
    const s = readFileSync("/proc/self/status", "utf8");
    return { voluntary: Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)![1]), involuntary: Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(s)![1]) };
  } catch {
    return { voluntary: NaN, involuntary: NaN };
  }
}

/**
 * E2E_PROBE=2 (diagnostic): a reader of the main thread's involuntary context switches through one open file
 * (pread of /proc/self/status, a few µs), to tell per sendMany whether the thread was preempted inside it.
 */
export function involuntaryCtxReader(): () => number {
  const fd = openSync("/proc/self/status", "r");
  const buf = Buffer.alloc(4096);
  const key = Buffer.from("nonvoluntary_ctxt_switches:");
  return () => {
    const n = readSync(fd, buf, 0, buf.length, 0);
    let i = buf.indexOf(key) + key.length;
    while (i < n && (buf[i] === 0x20 || buf[i] === 0x09)) i++;
    let v = 0;
    while (i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39) v = v * 10 + buf[i++]! - 0x30;
    return v;
  };
}

/** Udp RcvbufErrors of this network namespace (/proc/net/snmp): datagrams the kernel dropped at a full receive buffer. */
export function udpRcvbufErrors(): number {
  try {
    const lines = readFileSync("/proc/net/snmp", "utf8").split("\n").filter((l) => l.startsWith("Udp:"));
    const keys = lines[0]!.trim().split(/\s+/);
    return Number(lines[1]!.trim().split(/\s+/)[keys.indexOf("RcvbufErrors")]);
  } catch {
    return NaN;
  }
}

/** Interfaces of this process's network namespace (/proc/net/dev is per namespace; /sys/class/net is not). */
export function netnsInterfaces(): string[] {
  try {
    return readFileSync("/proc/net/dev", "utf8")
      .split("\n")
      .slice(2)
      .map((l) => l.split(":")[0]!.trim())
      .filter((n) => n !== "");
  } catch {
    return [];
  }
}

/** True when this process's network namespace has no interface but `lo`. */
export function inPrivateNetns(): boolean {
  const ifaces = netnsInterfaces();
  return ifaces.length > 0 && ifaces.every((i) => i === "lo");
}

/**
 * As root, outside a private network namespace, runs the bench file `moduleUrl` again inside `unshare -n` with only
 * `lo` up, and exits with its code; otherwise returns. So `npm run bench` keeps the bench's multicast off every
 * other interface and out of other tests' kernel counters. FEEDER_BENCH_NETNS=1 marks the re-run (never twice).
 */
export function reexecInPrivateNetns(moduleUrl: string): void {
  if (process.env.FEEDER_BENCH_NETNS === "1" || inPrivateNetns()) return;
  if (process.getuid?.() !== 0 || Bun.which("unshare") === null) return;
  const proc = Bun.spawnSync(["unshare", "-n", "sh", "-c", `ip link set lo up && exec "$0" "$1"`, process.execPath, fileURLToPath(moduleUrl)], {
    stdout: "inherit",
    stderr: "inherit",
    env: { ...process.env, FEEDER_BENCH_NETNS: "1" },
  });
  process.exit(proc.exitCode ?? 1);
}
