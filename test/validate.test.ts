import { test } from "node:test";
import assert from "node:assert/strict";
import { requireBoolean, requireInteger, requireNumber, requireNumberArray, requireMatrix, requireOneOf, describeValue } from "../lib/validate";
import { parseArgs, CliError } from "../cli/args";

test("validators: messages name the parameter, the value and what is allowed", () => {
  assert.throws(() => requireInteger("numExperts", 0, { min: 1 }), { name: "RangeError", message: "numExperts must be an integer >= 1, got 0" });
  assert.throws(() => requireInteger("numExperts", "8"), { name: "TypeError", message: 'numExperts must be an integer, got "8"' });
  assert.throws(() => requireNumber("x", NaN), { name: "RangeError", message: "x must be a finite number, got NaN" });
  assert.throws(() => requireNumber("p", 2, { min: 0, max: 1 }), { message: "p must be a finite number >= 0 and <= 1, got 2" });
  assert.throws(() => requireNumber("t", 0, { min: 0, minExclusive: true }), { message: "t must be a finite number > 0, got 0" });
  assert.throws(() => requireNumberArray("w", [1, "a"]), { name: "TypeError", message: 'w[1] must be a number, got "a"' });
  assert.throws(() => requireNumberArray("w", []), { name: "RangeError", message: "w must have at least 1 item(s), got 0" });
  assert.throws(() => requireMatrix("weight", [[1, 2], [3]]), { name: "RangeError", message: /row 0 has 2 items but row 1 has 1/ });
  assert.throws(() => requireOneOf("placement", "x", ["contiguous", "eplb"]), { message: 'placement must be one of contiguous, eplb, got "x"' });
  assert.deepEqual(requireMatrix("w", [[1], [2]]), { rows: 2, cols: 1 });
  assert.equal(describeValue(new Float32Array(3)), "a Float32Array of length 3");
});

test("parseArgs: typed options, unknown flags refused", () => {
  const specs = { n: { kind: "int" as const, help: "" }, f: { kind: "boolean" as const, help: "" }, l: { kind: "numbers" as const, help: "" }, p: { kind: "strings" as const, help: "" } };
  assert.deepEqual(parseArgs(["--n", "3", "--f", "x", "--l=1,2", "--p", "a", "--p", "b"], specs), { options: { n: 3, f: true, l: [1, 2], p: ["a", "b"] }, positionals: ["x"] });
  assert.throws(() => parseArgs(["--m"], specs), CliError);
  assert.throws(() => parseArgs(["--n", "1.5"], specs), /--n must be an integer, got "1.5"/);
  assert.throws(() => parseArgs(["--l", "1,x"], specs), /--l must be a number/);
  assert.throws(() => parseArgs(["-x"], specs), /unknown option "-x"/);
});

test("requireBoolean: undefined reads as the fallback; anything but a boolean is refused by name", () => {
  assert.equal(requireBoolean("overlap", undefined), false);
  assert.equal(requireBoolean("overlap", undefined, true), true);
  assert.equal(requireBoolean("overlap", true), true);
  assert.throws(() => requireBoolean("overlap", "yes"), /^TypeError: overlap must be true or false, got "yes"$/);
  assert.throws(() => requireBoolean("overlap", 1), /^TypeError: overlap must be true or false, got 1$/);
});
