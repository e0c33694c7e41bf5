/**
 * deploy/docker/Dockerfile, checked without a Docker engine (none runs on this project's machines or CI): the
 * build stage is the README's install (Node.js + npm ci) and package.json's build script, the run stage takes
 * the executable that script writes, runs as a dedicated user a command line the real CLI accepts, and host
 * networking is documented. `docker build` itself is not run here.
 */
import { describe, expect, test } from "vitest";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { main, SIGNALLED_DRAIN_MS } from "../../src/cli/main.ts";
import { STOP_DEADLINE_MS } from "../../src/cli/start-or-stop.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const DOCKERFILE = readFileSync(join(ROOT, "deploy/docker/Dockerfile"), "utf8");
const IGNORE = readFileSync(join(ROOT, "deploy/docker/Dockerfile.dockerignore"), "utf8");
const PKG = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const README = readFileSync(join(ROOT, "README.md"), "utf8");

interface Instruction {
  op: string;
  args: string;
}

/** Instructions per stage (continuation lines joined, comments dropped). */
function stages(text: string): Instruction[][] {
  const out: Instruction[][] = [];
  const joined = text.replace(/\\\n/g, " ").split("\n");
  for (const line of joined) {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) continue;
    const m = /^([A-Z]+)\s+(.*)$/.exec(t);
    if (!m) throw new Error(`not an instruction: ${t}`);
    if (m[1] === "FROM") out.push([]);
    out.at(-1)!.push({ op: m[1]!, args: m[2]!.replace(/\s+/g, " ") });
  }
  return out;
}

const [build, run] = stages(DOCKERFILE) as [Instruction[], Instruction[]];
const args = (s: Instruction[], op: string) => s.filter((i) => i.op === op).map((i) => i.args);

describe("deploy/docker/Dockerfile", () => {
  test("two stages: a Node.js build stage that installs as the README says, a slim run stage", () => {
    expect(stages(DOCKERFILE)).toHaveLength(2);
    const from = /^node:(\d+)-\S+ AS build$/.exec(args(build, "FROM")[0]!);
    expect(from).not.toBeNull();
    const minNode = Number(/>=\s*(\d+)/.exec(PKG.engines.node)![1]);
    expect(Number(from![1])).toBeGreaterThanOrEqual(minNode);
    expect(README).toContain("Only Node.js and npm are needed");
    // Lockfile first (a layer cached until dependencies change), then exactly the lockfile's install.
    expect(args(build, "COPY")[0]).toBe("package.json package-lock.json ./");
    expect(args(build, "RUN")[0]).toMatch(/^npm ci\b/);
    expect(README).toMatch(/npm ci/);
    expect(args(run, "FROM")[0]).toMatch(/^debian:\S+-slim$/);
  });

  test("the build command is package.json's build script, and the run stage copies the file that script writes", () => {
    expect(args(build, "RUN")[1]).toMatch(/^npm run build\b/);
    expect(README).toContain("npm run build");
    const outfile = /--outfile (\S+)/.exec(PKG.scripts.build)![1]!;
    const workdir = args(build, "WORKDIR")[0]!;
    expect(args(run, "COPY")).toContain(`--from=build ${join(workdir, outfile)} /usr/local/bin/feeder`);
    expect(args(run, "ENTRYPOINT")).toEqual(['["/usr/local/bin/feeder"]']);
  });

  test("runs as a dedicated user the command line the real CLI accepts, with the config the image ships", async () => {
    expect(args(run, "USER")).toEqual(["feeder"]);
    expect(args(run, "RUN")[0]).toContain("useradd --system");
    const cmd = JSON.parse(args(run, "CMD")[0]!) as string[];
    expect(cmd.slice(0, 2)).toEqual(["run", "--config"]);
    const shipped = args(run, "COPY").find((c) => c.endsWith(` ${cmd[2]}`))!;
    const source = join(ROOT, shipped.split(" ")[0]!);
    expect(existsSync(source)).toBe(true);
    const err: string[] = [];
    const io = { out: () => {}, err: (t: string) => err.push(t) };
    expect(await main(["check-config", "--config", source], io)).toBe(0);
    expect(await main([...cmd.map((a) => (a === cmd[2] ? source : a)), "--help"], io)).toBe(0);
    expect(err).toEqual([]);
    expect(args(run, "STOPSIGNAL")).toEqual(["SIGTERM"]);
  });

  test("compose.yaml builds this Dockerfile from the repository root and runs it with host networking", () => {
    const compose = Bun.YAML.parse(readFileSync(join(ROOT, "deploy/docker/compose.yaml"), "utf8")) as {
      services: Record<string, { build: { context: string; dockerfile: string }; network_mode: string; volumes: string[]; stop_signal: string; command?: unknown }>;
    };
    const svc = compose.services.feeder!;
    expect(svc.network_mode).toBe("host");
    expect(resolve(ROOT, "deploy/docker", svc.build.context)).toBe(ROOT);
    expect(existsSync(join(ROOT, svc.build.dockerfile))).toBe(true);
    expect(join(ROOT, svc.build.dockerfile)).toBe(join(ROOT, "deploy/docker/Dockerfile"));
    const cmd = JSON.parse(args(run, "CMD")[0]!) as string[];
    expect(svc.command).toBeUndefined(); // the image's CMD: run --config /etc/feeder/feeder.toml
    expect(svc.volumes).toContain(`${cmd[2]}:${cmd[2]}:ro`);
    expect(svc.volumes.some((v) => v.endsWith(`:${args(run, "WORKDIR")[0]}`))).toBe(true); // the state volume
    expect(svc.stop_signal).toBe("SIGTERM");
  });

  test("the container's descriptor limit is the systemd unit's LimitNOFILE (HTTP stops accepting at 75 % of it), in compose.yaml and the docker run lines", () => {
    // Without it the limit was the engine's default, raised by Bun to the hard limit (commonly 524,288): a flood
    // held hundreds of thousands of connections before the HTTP descriptor guard stopped accepting.
    const unit = readFileSync(join(ROOT, "deploy/systemd/feeder.service"), "utf8");
    const limit = Number(/^LimitNOFILE=(\d+)$/m.exec(unit)?.[1]);
    expect(limit).toBeGreaterThan(0);
    const compose = Bun.YAML.parse(readFileSync(join(ROOT, "deploy/docker/compose.yaml"), "utf8")) as { services: Record<string, { ulimits?: { nofile?: unknown } }> };
    expect(compose.services.feeder!.ulimits?.nofile).toEqual({ soft: limit, hard: limit });
    const guide = readFileSync(join(ROOT, "docs/deployment.md"), "utf8");
    for (const text of [DOCKERFILE, guide]) expect(text).toMatch(new RegExp(`docker run .*--ulimit nofile=${limit}:${limit}`));
  });

  test("the docker run lines of the Dockerfile and docs/deployment.md bound the json-file log as compose.yaml does", () => {
    const compose = Bun.YAML.parse(readFileSync(join(ROOT, "deploy/docker/compose.yaml"), "utf8")) as { services: Record<string, { logging?: { options?: Record<string, string> } }> };
    const options = compose.services.feeder!.logging?.options ?? {};
    expect(Object.keys(options).length).toBeGreaterThan(0);
    /** The `docker run` command line in `text`, its continued lines joined (a comment's `#` taken off). */
    const runLine = (text: string) => {
      const lines = text.split("\n").map((l) => l.replace(/^#\s*/, ""));
      const from = lines.findIndex((l) => /^\s*docker run /.test(l));
      let end = from;
      while (lines[end]!.trimEnd().endsWith("\\")) end++;
      return lines.slice(from, end + 1).join(" ");
    };
    // Before 2026-12-07 the Dockerfile's line had none: a container started as it says logged without bound, while
    // compose.yaml, "the same as the docker run line in the Dockerfile", kept 5 × 50 MB.
    for (const [name, text] of [["Dockerfile", DOCKERFILE], ["docs/deployment.md", readFileSync(join(ROOT, "docs/deployment.md"), "utf8")]] as const) {
      for (const [key, value] of Object.entries(options)) expect(runLine(text), name).toContain(`--log-opt ${key}=${value}`);
    }
  });

  test("docker stop waits for the command's stop deadline and output drain before its SIGKILL (compose and docker run)", () => {
    // As the systemd units' TimeoutStopSec (systemd.test.ts): cut earlier, the books' halted statuses are lost.
    const needsMs = STOP_DEADLINE_MS + SIGNALLED_DRAIN_MS + 1000;
    const compose = Bun.YAML.parse(readFileSync(join(ROOT, "deploy/docker/compose.yaml"), "utf8")) as { services: Record<string, { stop_grace_period?: string }> };
    const grace = /^(\d+)(ms|s|m)$/.exec(compose.services.feeder!.stop_grace_period ?? "10s")!;
    expect(Number(grace[1]) * { ms: 1, s: 1000, m: 60_000 }[grace[2] as "ms" | "s" | "m"]).toBeGreaterThanOrEqual(needsMs);
    // docker run's default (10 s) where the lines set no --stop-timeout (-t is docker stop's).
    const guide = readFileSync(join(ROOT, "docs/deployment.md"), "utf8");
    for (const text of [DOCKERFILE, guide]) {
      const set = /--stop-timeout[ =](\d+)/.exec(text);
      expect((set ? Number(set[1]) : 10) * 1000).toBeGreaterThanOrEqual(needsMs);
    }
  });

  test("host networking is documented in the Dockerfile and in docs/deployment.md; the host's node_modules stay out", () => {
    expect(DOCKERFILE).toMatch(/docker run .*--network host/);
    const guide = readFileSync(join(ROOT, "docs/deployment.md"), "utf8");
    expect(guide).toContain("--network host");
    expect(guide).toContain("deploy/docker/Dockerfile");
    const ignored = IGNORE.split("\n").map((l) => l.trim());
    for (const p of ["node_modules", "dist", ".git"]) expect(ignored).toContain(p);
  });
});
