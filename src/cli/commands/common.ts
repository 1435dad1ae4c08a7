import type { Command } from "commander";
import { loadConfig } from "../../config/index.ts";
import { openProject, type Project } from "../../pipeline/index.ts";

/** Open the project named by the global --config flag (and an optional --model override). */
export function projectFrom(cmd: Command, model?: string): Project {
  const { config } = cmd.optsWithGlobals() as { config?: string };
  return openProject(loadConfig(config), { model });
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + "\n");
}
