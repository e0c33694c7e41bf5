/**
 * The stop of `bridge`, `listen` (and `replay`, `demo`) against a second SIGINT/SIGTERM, as s-rdcli8 made `run` and
 * `record`'s: the stop bounded (1.5 s, a warning when cut), a second signal during it logged and ignored.
 * The NATS server here greets, answers PINGs until muted, then answers nothing: to-nats' stop flushes (a PING that
 * waits for its PONG), so the stop hangs there.
 * Before s-sig8: `bridge to-nats` never ended its stop (systemctl stop waited for its SIGKILL), and a second signal
 * killed it (exit by the signal, no `stopped` line).
 * s-rdsig: a SIGHUP during the stop is held too (it stops these commands; a second one killed them, exit 129), and
 * the stop after a failed bridge start is bounded as well (a server that refused --stream and went silent held it).
 */
import { describe, expect, test, type TestContext } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir, uniqueDestination } from "../e2e/harness.ts";
import { writeXrpCapture, writeXrpConfig } from "../support/xrp-capture.ts";
import { exitCodeWithin } from "../support/exit-within.ts";
import { until } from "../support/until.ts";

const ROOT = join(import.meta.dirname, "../..");
const INFO = `INFO {"server_id":"sig8","version":"2.10.0","proto":1,"headers":true,"max_payload":1048576}\r\n`;

/** Where a test's server and processes are stopped when it ends (its own context: the tests run concurrently). */
type Cleanup = TestContext["onTestFinished"];

/**
 * A NATS server on 127.0.0.1 that answers PING with PONG until mute(); pingsMuted: PINGs it left unanswered. With
 * refuseJetStream, a request (a PUB with a reply subject: JetStream's API) is answered "JetStream not enabled" and the
 * server mutes itself there.
 */
function muteableNats(cleanup: Cleanup, opts: { refuseJetStream?: boolean } = {}) {
  const state = { muted: false, pingsMuted: 0 };
  let inboxSid = "";
  const server = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open: (s) => void s.write(INFO),
      data(s, data) {
        const text = data.toString();
        for (const m of text.matchAll(/SUB (_INBOX\.\S+) (\d+)\r\n/g)) inboxSid = m[2]!;
        for (const m of opts.refuseJetStream === true ? text.matchAll(/H?PUB \S+ (_INBOX\.\S+) /g) : []) {
          const body = JSON.stringify({ type: "io.nats.jetstream.api.v1.account_info_response", error: { code: 503, err_code: 10039, description: "jetstream not enabled for account" } });
          s.write(`MSG ${m[1]} ${inboxSid} ${body.length}\r\n${body}\r\n`);
          state.muted = true;
        }
        for (const _ of text.matchAll(/PING\r\n/g)) {
          if (state.muted) state.pingsMuted++;
          else s.write("PONG\r\n");
        }
      },
    },
  });
  cleanup(() => server.stop(true));
  return { url: `nats://127.0.0.1:${server.port}`, state, mute: () => void (state.muted = true) };
}

/** `feeder <args>` (with test/support/`preload` preloaded) with its stderr collected as it comes. */
function spawnFeeder(cleanup: Cleanup, args: string[], preload?: string) {
  const preloads = preload === undefined ? [] : ["--preload", join(ROOT, "test/support", preload)];
  const child = Bun.spawn([process.execPath, ...preloads, join(ROOT, "src/cli/main.ts"), ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, FEEDER_LOG_LEVEL: "info" } });
  cleanup(() => void child.kill("SIGKILL"));
  const io = { child, stderr: "", stdout: "" };
  void (async () => {
    for await (const chunk of child.stderr) io.stderr += new TextDecoder().decode(chunk);
  })();
  void (async () => {
    for await (const chunk of child.stdout) io.stdout += new TextDecoder().decode(chunk);
  })();
  return io;
}

const ended = (child: { exitCode: number | null; signalCode: unknown }) => child.exitCode !== null || child.signalCode !== null;

const messages = (stderr: string) =>
  stderr
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as { msg: string; level: string; signal?: string });

// Concurrent: each test's process spends most of its time waiting (its start, the 1.5 s stop bound), and each has its
// own ports and server; one after another they took 19 s.
describe.concurrent("a stop that does not end, signalled again", { timeout: 30_000 }, () => {
  test("bridge to-nats: the flush to a NATS server that stopped answering is cut at 1.5 s; the second SIGINT is logged and ignored; `stopped`, exit 0", async ({ onTestFinished }) => {
    const nats = muteableNats(onTestFinished);
    const { group, port } = uniqueDestination(881);
    const io = spawnFeeder(onTestFinished, ["bridge", "to-nats", "--nats", nats.url, "-g", `${group}:${port}`, "--http", "off"]);
    const { child } = io;
    await until(() => io.stderr.includes('"msg":"bridging to NATS"') || ended(child), "bridging", 30_000);
    nats.mute();
    child.kill("SIGINT");
    await until(() => nats.state.pingsMuted > 0 || ended(child), "the stop's flush under way", 30_000);
    child.kill("SIGINT");
    // Before: killed by this signal (its default action: main listens for the first only).
    expect(await exitCodeWithin(child, 10_000), io.stderr).toBe(0);
    expect(child.signalCode).toBeNull();
    const msgs = messages(io.stderr);
    expect(msgs.find((m) => m.msg.startsWith("stop signal again"))).toMatchObject({ level: "warn", signal: "SIGINT" });
    expect(msgs.slice(-2).map((m) => [m.level, m.msg.split(":")[0]])).toEqual([
      ["warn", "stop not finished within its deadline"],
      ["info", "stopped"],
    ]);
  });

  test("bridge to-nats --stream: a start refused by a server that then stops answering: no flush waited for, exit 1", async ({ onTestFinished }) => {
    const nats = muteableNats(onTestFinished, { refuseJetStream: true });
    const { group, port } = uniqueDestination(885);
    const io = spawnFeeder(onTestFinished, ["bridge", "to-nats", "--nats", nats.url, "-g", `${group}:${port}`, "--stream", "SIG8", "--http", "off"]);
    // Before: "bridge could not start", then the stop's flush waited for a PONG for good (the unit's stop-sig kill);
    // then, bounded, that flush cut at 1.5 s. Since s-rdnatsst the failed start closes its connection itself, without
    // a flush (nothing of a failed start is to be kept): nothing waits on the silent server.
    expect(await exitCodeWithin(io.child, 10_000), io.stderr).toBe(1);
    expect(nats.state.pingsMuted).toBe(0);
    expect(messages(io.stderr).map((m) => [m.level, m.msg.split(":")[0]])).toEqual([["error", "bridge could not start"]]);
  });

  test("listen: its stop held for good; the second SIGINT is logged and ignored, the stop cut at 1.5 s, exit 0", async ({ onTestFinished }) => {
    const { group, port } = uniqueDestination(882);
    const io = spawnFeeder(onTestFinished, ["listen", "-g", `${group}:${port}`, "-f", "ndjson"], "held-subscriber-stop-preload.ts");
    const { child } = io;
    await until(() => io.stderr.includes('"msg":"listening"') || ended(child), "listening", 30_000);
    child.kill("SIGINT");
    await until(() => io.stderr.includes("test: stop held") || ended(child), "the stop under way", 30_000);
    child.kill("SIGINT");
    // Before: killed by this signal; and, not killed, a stop that does not end held the process for good.
    expect(await exitCodeWithin(child, 10_000), io.stderr).toBe(0);
    expect(child.signalCode).toBeNull();
    const msgs = messages(io.stderr);
    expect(msgs.find((m) => m.msg.startsWith("stop signal again"))).toMatchObject({ level: "warn", signal: "SIGINT" });
    expect(msgs.at(-1)).toMatchObject({ level: "warn", msg: "stop not finished within its deadline: ending with it under way (the feed's sockets or NATS connection not closed)" });
  });

  test("listen: stopped by SIGHUP (its terminal closed), SIGHUP again during the stop: logged and ignored, exit 0", async ({ onTestFinished }) => {
    const { group, port } = uniqueDestination(886);
    const io = spawnFeeder(onTestFinished, ["listen", "-g", `${group}:${port}`, "-f", "ndjson"], "held-subscriber-stop-preload.ts");
    const { child } = io;
    await until(() => io.stderr.includes('"msg":"listening"') || ended(child), "listening", 30_000);
    child.kill("SIGHUP");
    await until(() => io.stderr.includes("test: stop held") || ended(child), "the stop under way", 30_000);
    child.kill("SIGHUP");
    // Before: killed by the second SIGHUP (exit by the signal: main listens for the first only, the hold took
    // SIGINT and SIGTERM alone).
    expect(await exitCodeWithin(child, 10_000), io.stderr).toBe(0);
    expect(child.signalCode).toBeNull();
    expect(messages(io.stderr).find((m) => m.msg.startsWith("stop signal again"))).toMatchObject({ level: "warn", signal: "SIGHUP" });
  });

  test("replay: Feeder.stop() held for good; the second SIGINT is logged and ignored; the summary line written, exit 0", async ({ onTestFinished }) => {
    const dir = tempDir("sig8-replay-");
    const config = writeXrpConfig(dir, uniqueDestination(883));
    // `feeder started` logged; no listen for another publisher first (1.5 s of the test's time).
    writeFileSync(config, readFileSync(config, "utf8").replace('level = "warn"', 'level = "info"').replace("[publish]\n", "[publish]\nstartup_listen_ms = 0\n"));
    const { file } = writeXrpCapture(dir, { spacingUs: 1_000_000 }); // paced: still replaying when signalled
    const io = spawnFeeder(onTestFinished, ["replay", "-c", config, "--pace", "recorded", file], "held-stop-preload.ts");
    const { child } = io;
    await until(() => io.stderr.includes('"msg":"feeder started"') || ended(child), "replaying", 30_000);
    child.kill("SIGINT");
    await until(() => io.stderr.includes("test: stop held") || ended(child), "the stop under way", 30_000);
    child.kill("SIGINT");
    // Before: killed by this signal, the summary never written.
    expect(await exitCodeWithin(child, 10_000), io.stderr).toBe(0);
    expect(child.signalCode).toBeNull();
    expect(messages(io.stderr).find((m) => m.msg.startsWith("stop signal again"))).toMatchObject({ level: "warn", signal: "SIGINT" });
    expect(JSON.parse(io.stdout.trim().split("\n").at(-1)!)).toMatchObject({ stoppedEarly: true });
  });

  test("demo: Feeder.stop() held for good; the second SIGINT is logged and ignored, the stop cut at 1.5 s, exit 0", async ({ onTestFinished }) => {
    const { port } = uniqueDestination(884);
    const io = spawnFeeder(onTestFinished, ["demo", "--port", String(port), "--rate", "50"], "held-stop-preload.ts");
    const { child } = io;
    await until(() => io.stderr.includes('"msg":"listening"') || ended(child), "listening", 30_000);
    child.kill("SIGINT");
    await until(() => io.stderr.includes("test: stop held") || ended(child), "the stop under way", 30_000);
    child.kill("SIGINT");
    // Before: killed by this signal; and, not killed, runtime.stop() waited for as long as it took.
    expect(await exitCodeWithin(child, 10_000), io.stderr).toBe(0);
    expect(child.signalCode).toBeNull();
    const msgs = messages(io.stderr);
    expect(msgs.find((m) => m.msg.startsWith("stop signal again"))).toMatchObject({ level: "warn", signal: "SIGINT" });
    expect(msgs.at(-1)).toMatchObject({ level: "warn", msg: "stop not finished within its deadline: ending with it under way (a venue that does not close)" });
  });
});
