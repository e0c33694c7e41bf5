/** Every CLI command, in the order `feeder --help` lists them. @module */
import type { CommandSpec } from "../command.ts";
import { bridgeCommand } from "./bridge.ts";
import { demoCommand } from "./demo.ts";
import { exportCommand } from "./export.ts";
import { listenCommand } from "./listen.ts";
import { recordCommand } from "./record.ts";
import { replayCommand } from "./replay.ts";
import { runCommand } from "./run.ts";
import { simCommand } from "./sim.ts";
import { checkConfigCommand } from "./check-config.ts";

export const COMMANDS: readonly CommandSpec[] = [
  runCommand,
  listenCommand,
  simCommand,
  demoCommand,
  recordCommand,
  replayCommand,
  exportCommand,
  checkConfigCommand,
  bridgeCommand,
];
