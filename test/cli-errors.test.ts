/**
 * One-line CLI errors that quote what the user typed: expert-time's --overhead-us in microseconds,
 * and readUserFile's words for a path that is missing, a directory or under a file.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { main } from "../cli/main";
import { CliError, readUserFile } from "../cli/args";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

const SHAPE = ["expert-time", "--hidden", "7168", "--intermediate", "2048"];

test("expert-time: a negative --overhead-us is refused with the value typed, in microseconds", async () => {
  for (const [flag, typed] of [[["--overhead-us", "-1"], "-1"], [["--overhead-us=-0.5"], "-0.5"]] as const) {
    const r = await cli([...SHAPE, ...flag]);
    assert.deepEqual([r.code, r.err, r.out], [2, `moe-lab expert-time: --overhead-us must be a finite number >= 0, got ${typed}\n`, ""]);
  }
  const ok = await cli([...SHAPE, "--overhead-us", "0", "--json"]);
  assert.equal(ok.code, 0, ok.err);
  const eff = await cli([...SHAPE, "--memory-efficiency", "2"]);
  assert.deepEqual([eff.code, eff.err], [2, "moe-lab expert-time: --memory-efficiency must be a finite number > 0 and <= 1, got 2\n"]);
});

test("readUserFile: the path as given and what is wrong with it, as a CliError", () => {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-cli-errors-"));
  try {
    const file = join(dir, "a.json");
    writeFileSync(file, "{}");
    assert.equal(readUserFile(file, "a JSON file"), "{}");
    const cases: Array<[string, string]> = [
      [dir, `${dir} is a directory, not a JSON file`],
      [join(dir, "nope.json"), `${join(dir, "nope.json")} does not exist`],
      [join(file, "x.json"), `${join(file, "x.json")} does not exist (a part of its path is not a directory)`],
      ["", 'expected a file path, got ""'],
    ];
    for (const [path, message] of cases) {
      assert.throws(() => readUserFile(path, "a JSON file"), (e: unknown) => e instanceof CliError && (e as Error).message === message, message);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
