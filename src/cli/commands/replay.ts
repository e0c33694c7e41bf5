import type { CommandSpec } from "../command.ts";

// Filled by issue 6 (operations); until then the command says so and exits 1.
export const replayCommand: CommandSpec = {
  name: "replay",
  summary: "feed a capture file through the pipeline (not available yet)",
  help: "Not available in this version yet.\n",
  options: {},
  async run(ctx) {
    ctx.out("feeder replay: not available in this version yet");
    return 1;
  },
};
