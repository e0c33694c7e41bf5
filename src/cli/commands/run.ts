import type { CommandSpec } from "../command.ts";

// Placeholder until its implementation lands.
export const runCommand: CommandSpec = {
  name: "run",
  summary: "(not available yet)",
  help: "Not available in this version yet.\n",
  options: {},
  async run(ctx) {
    ctx.out("feeder run: not available in this version yet");
    return 1;
  },
};
