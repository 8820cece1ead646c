/** Shared test helpers: run the CLI as a user would, find optional tools. */
import assert from "node:assert/strict";
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

/** In CI a missing real component is a failure; locally the test says it is skipped and why. */
export function missing(t: { skip(msg: string): void }, what: string): void {
  const msg = `${what} (CI installs it from Debian: see .ci/run)`;
  if (process.env.CI) assert.fail(`${msg}: required in CI`);
  t.skip(msg);
}

/** A Python interpreter that can `import <module>` (python3 on PATH, else Debian's), or null. */
export function pythonWith(module: string): string | null {
  for (const py of ["python3", "/usr/bin/python3"]) {
    if (spawnSync(py, ["-c", `import ${module}`], { encoding: "utf8" }).status === 0) return py;
  }
  return null;
}
