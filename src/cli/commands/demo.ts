import type { CommandSpec } from "../command.ts";

// Filled by issue 6 (operations); until then the command says so and exits 1.
export const demoCommand: CommandSpec = {
  name: "demo",
  summary: "offline demo: simulator + feeder + live top-of-book view (not available yet)",
  help: "Not available in this version yet.\n",
  options: {},
  async run(ctx) {
    ctx.out("feeder demo: not available in this version yet");
    return 1;
  },
};
