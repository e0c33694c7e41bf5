import { loadConfigFile } from "../../config/load.ts";
import { UsageError, type CommandSpec } from "../command.ts";

export const checkConfigCommand: CommandSpec = {
  name: "check-config",
  summary: "validate a configuration file and print the resolved settings",
  help: ["Options:", "  -c, --config FILE  the TOML configuration to validate (required)"].join("\n"),
  options: { config: { type: "string", short: "c" } },
  async run(ctx) {
    const path = ctx.values.config;
    if (typeof path !== "string") throw new UsageError("--config FILE is required");
    const config = loadConfigFile(path);
    ctx.out(JSON.stringify(config, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v), 2));
    return 0;
  },
};
