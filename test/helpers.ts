/** Shared test helpers: run the CLI as a user would, find optional tools. */
import { spawnSync, SpawnSyncReturns } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../lib/paths";

/** Runs `node bin/moe-lab.js ...args` from `cwd` (default: the repo root). */
export function runCli(args: string[], cwd = repoRoot(), timeoutMs = 300_000): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [join(repoRoot(), "bin", "moe-lab.js"), ...args], { cwd, encoding: "utf8", timeout: timeoutMs });
}

/** Whether a command exists on PATH. */
export function hasCommand(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
}
