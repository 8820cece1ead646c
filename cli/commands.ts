/**
 * The table of `moe-lab` commands. Each command lives in its own file under `cli/`;
 * add one line here to register a new one.
 */
import type { Command } from "./args";
import { labnoteCommand } from "./labnote";
import { runCommand } from "./run";

export const COMMANDS: Record<string, Command> = {
  labnote: labnoteCommand,
  run: runCommand,
};
