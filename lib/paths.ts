/**
 * Locating moe-lab's own files (data/, notebooks/) from library code, whether it runs compiled
 * (dist/lib), as TypeScript inside a tslab kernel (cwd = notebooks/), or from the CLI anywhere.
 */
import { existsSync, readFileSync } from "fs";
import { dirname, join, resolve } from "path";

function isRepoRoot(dir: string): boolean {
  const pkg = join(dir, "package.json");
  if (!existsSync(pkg)) return false;
  try {
    return (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "moe-lab";
  } catch {
    return false;
  }
}

function findUp(start: string): string | null {
  let dir = resolve(start);
  for (;;) {
    if (isRepoRoot(dir)) return dir;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * The moe-lab repository root (the folder of its package.json).
 * @throws {Error} when neither this file's folder nor the working directory is inside moe-lab.
 */
export function repoRoot(): string {
  const root = findUp(__dirname) ?? findUp(process.cwd());
  if (!root) throw new Error("cannot find the moe-lab folder (no package.json named moe-lab above this file or the working directory)");
  return root;
}

/** Absolute path of a file under data/: `dataPath("eplb", "01_readme_example.json")`. */
export function dataPath(...parts: string[]): string {
  return join(repoRoot(), "data", ...parts);
}

/** Reads and parses a JSON file under data/, naming the file on a parse error. */
export function readDataJson<T = unknown>(...parts: string[]): T {
  const file = dataPath(...parts);
  const text = readFileSync(file, "utf8");
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new SyntaxError(`data/${parts.join("/")} is not valid JSON: ${(e as Error).message}`);
  }
}
