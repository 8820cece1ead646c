/**
 * The table of `moe-lab` commands. Each command lives in its own file under `cli/`;
 * add one line here to register a new one.
 */
import type { Command } from "./args";
import { labnoteCommand } from "./labnote";

export const COMMANDS: Record<string, Command> = {
  labnote: labnoteCommand,
};
