/**
 * main() is also run in-process (run-main.ts), many commands per test worker: each command's listeners on `process`
 * (the stop signals, SIGHUP) are gone once it ends, whether it succeeded, failed or was stopped by a signal. Until
 * 2026-12-08 they stayed: a later SIGTERM also ran every earlier command's handler, and the count grew per call.
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { main } from "../../src/cli/main.ts";
import { runMain } from "./run-main.ts";
import { makeTempDir } from "../support/temp-dirs.ts";

const EVENTS = ["SIGINT", "SIGTERM", "SIGHUP", "exit", "uncaughtException", "unhandledRejection"] as const;
const listenersNow = () => EVENTS.map((e) => [e, process.listeners(e)] as const);
const dir = makeTempDir("feeder-main-listeners-");

test("commands that succeed or fail leave process's listeners as they found them", async () => {
  const valid = join(dir, "valid.toml");
  writeFileSync(valid, '[venues.bybit.linear]\nsymbols = ["BTCUSDT"]\n');
  const before = listenersNow();
  const codes: number[] = [];
  for (let i = 0; i < 3; i++) {
    codes.push((await runMain("check-config", "-c", valid)).code);
    codes.push((await runMain("check-config", "-c", join(dir, "none.toml"))).code);
    codes.push((await runMain("run", "-c", join(dir, "none.toml"))).code); // run: SIGHUP is its own
  }
  expect(codes).toEqual([0, 2, 2, 0, 2, 2, 0, 2, 2]);
  expect(listenersNow()).toEqual(before);
});

test("a command stopped by its signal removes its listeners: a later signal does not reach them", async () => {
  const fifo = join(dir, "no-writer.toml");
  expect(spawnSync("mkfifo", [fifo]).status).toBe(0);
  const before = process.listeners("SIGTERM");
  const running = main(["check-config", "-c", fifo], { out: () => {}, err: () => {} });
  // Listened for synchronously, before main's first await: the command's own are the new ones.
  const commands = process.listeners("SIGTERM").filter((l) => !before.includes(l));
  expect(commands.length).toBeGreaterThan(0);
  for (const l of commands) (l as (sig: string) => void)("SIGTERM");
  expect(await running).toBe(143);
  expect(process.listeners("SIGTERM").filter((l) => commands.includes(l))).toEqual([]);
  expect(process.listeners("SIGTERM")).toEqual(before);
});
