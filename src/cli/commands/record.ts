import type { CommandSpec } from "../command.ts";

// Filled by issue 6 (operations); until then the command says so and exits 1.
export const recordCommand: CommandSpec = {
  name: "record",
  summary: "write every raw exchange frame to capture files (not available yet)",
  help: "Not available in this version yet.\n",
  options: {},
  async run(ctx) {
    ctx.out("feeder record: not available in this version yet");
    return 1;
  },
};
