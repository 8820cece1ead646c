import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { repoRoot } from "../lib/paths";
import { runCli, hasCommand } from "./helpers";

const reference = join(repoRoot(), "tools", "labnote_reference.py");

function python(args: string[]): string {
  const r = spawnSync("python3", [reference, ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

const CASES: string[][] = [
  [],
  ["--seed", "7"],
  ["--experts", "64"],
  ["--seed", "123", "--tokens", "777", "--hot-experts", "5", "--hot-fraction", "0.9"],
  ["--seed", "0", "--experts", "16", "--hot-experts", "3", "--tokens", "50", "--cap", "1.05", "--idle-threshold", "0.9"],
  ["--seed", "99", "--hot-fraction", "0", "--idle-threshold", "0"],
  ["--seed", "5", "--experts", "2", "--hot-experts", "1", "--tokens", "1", "--hot-fraction", "1"],
  ["--seed", "31", "--experts", "256", "--tokens", "100000", "--hot-experts", "32", "--hot-fraction", "0.45", "--cap", "1.5"],
  // Seeds beyond 2^53 (Python takes integers of any size) and negative ones (Python uses |seed|).
  ["--seed", "99999999999999999999999"],
  ["--seed", "9007199254740993", "--tokens", "500"],
  ["--seed=-18446744073709551617", "--tokens", "500"],
];

test("moe-lab labnote prints exactly what the lab note's Python prints, for every option", (t) => {
  if (!hasCommand("python3")) {
    t.skip("python3 is not installed: cannot compare with CPython here");
    return;
  }
  for (const args of CASES) {
    const ours = runCli(["labnote", ...args]);
    assert.equal(ours.status, 0, ours.stderr);
    assert.equal(ours.stdout.trimEnd(), python(args).trimEnd(), `text for ${args.join(" ")}`);
    const json = runCli(["labnote", "--json", ...args]);
    assert.equal(json.status, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), JSON.parse(python([...args, "--json"])), `json for ${args.join(" ")}`);
  }
});

test("moe-lab labnote --json has exactly the documented keys", () => {
  const r = runCli(["labnote", "--json"]);
  assert.equal(r.status, 0);
  const obj = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(obj).sort(), [
    "baselineThroughput", "eplbImbalance", "eplbMaxLoad", "eplbThroughput", "imbalance", "loads", "maxLoad",
    "maxLoadImprovement", "meanLoad", "minLoad", "speedup", "zeroExperts",
  ]);
  assert.equal(obj.loads.length, 128);
});

test("bad options: one clear line on stderr, non-zero exit, nothing on stdout", () => {
  const bad: Array<[string[], RegExp]> = [
    [["--bogus"], /unknown option --bogus/],
    [["--hot-experts", "128"], /--hot-experts must be an integer >= 1 and <= 127, got 128/],
    [["--hot-fraction", "1.5"], /--hot-fraction must be a finite number >= 0 and <= 1, got 1.5/],
    [["--hot-fraction", "-0.1"], /--hot-fraction/],
    [["--tokens", "12.5"], /--tokens must be an integer, got "12.5"/],
    [["--tokens"], /--tokens needs a value/],
    [["--seed", "abc"], /--seed must be an integer/],
    [["--cap", "0"], /--cap must be a finite number > 0/],
    [["extra"], /unexpected argument/],
  ];
  for (const [args, re] of bad) {
    const r = runCli(["labnote", ...args]);
    assert.equal(r.status, 2, `${args.join(" ")} exit code`);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split("\n").length, 1, `one line for ${args.join(" ")}: ${r.stderr}`);
  }
  const unknown = runCli(["nope"]);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command "nope"/);
});
