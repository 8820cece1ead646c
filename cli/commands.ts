/**
 * The table of `moe-lab` commands. Each command lives in its own file under `cli/`;
 * add one line here to register a new one.
 */
import type { Command } from "./args";
import { labnoteCommand } from "./labnote";
import { eplbCommand } from "./eplb";
import { runCommand } from "./run";
import { expertTimeCommand } from "./expert-time";
import { stepCommand } from "./step";
import { paramsCommand } from "./params";
import { compareCommand } from "./compare";

export const COMMANDS: Record<string, Command> = {
  labnote: labnoteCommand,
  eplb: eplbCommand,
  run: runCommand,
  "expert-time": expertTimeCommand,
  step: stepCommand,
  params: paramsCommand,
  compare: compareCommand,
};
