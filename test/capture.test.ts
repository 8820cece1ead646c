/**
 * Capture records (lib/capture.ts): round-trip, compare, malformed records rejected.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import {
  CAPTURE_SCHEMA, CAPTURE_VERSION, compareCaptures, comparisonCells, comparisonMarkdown, createCapture, formatComparison,
  isIdentifierField, parseCapture, readCapture, selectFields, validateCapture, writeCapture,
} from "../lib/capture";
import { main } from "../cli/main";

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "moe-lab-capture-"));
}

const healthy = createCapture(
  "healthy run",
  { model: "deepseek-v3", tokens_per_s: 1000, step_ms: { attention: 2, experts: 5, all_to_all: 3 }, hot_experts: [3, 17], eplb: true, error: null },
  { source: "test", timestamp: "2025-07-01T12:00:00Z" },
);
const slow = createCapture("slow run", {
  model: "deepseek-v3", tokens_per_s: 600, step_ms: { attention: 2, experts: 9, all_to_all: 7 }, hot_experts: [3, 17, 40], eplb: false, error: null, batch: 0,
});

test("createCapture flattens nested objects to dotted names and carries schema and version", () => {
  assert.equal(healthy.schema, CAPTURE_SCHEMA);
  assert.equal(healthy.version, CAPTURE_VERSION);
  assert.equal(healthy.fields["step_ms.experts"], 5);
  assert.deepEqual(healthy.fields.hot_experts, [3, 17]);
  assert.equal(healthy.timestamp, "2025-07-01T12:00:00Z");
  assert.equal(slow.timestamp, undefined);
});

test("a capture round-trips through a file, written atomically", () => {
  const dir = tempDir();
  try {
    const file = join(dir, "healthy.json");
    writeCapture(file, healthy);
    assert.deepEqual(readCapture(file), healthy);
    writeCapture(file, slow); // overwrite
    assert.deepEqual(readCapture(file), slow);
    assert.deepEqual(readdirSync(dir), ["healthy.json"], "no temporary file is left behind");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a capture that cannot be written fails in one line naming the file and why, leaving nothing behind", () => {
  const dir = tempDir();
  const failsWith = (file: string, code: string, re: RegExp) =>
    assert.throws(() => writeCapture(file, healthy), (e: unknown) => {
      const err = e as NodeJS.ErrnoException;
      return err.code === code && re.test(err.message) && !err.message.includes("\n") && !err.message.includes(".tmp");
    }, code);
  try {
    const missing = join(dir, "no-such-folder");
    failsWith(join(missing, "a.json"), "ENOENT", /^cannot write capture .*a\.json: its folder .*no-such-folder does not exist \(ENOENT\)$/);
    writeFileSync(join(dir, "plain"), "x");
    failsWith(join(dir, "plain", "a.json"), "ENOTDIR", /^cannot write capture .*a\.json: a part of .*plain is not a folder \(ENOTDIR\)$/);
    failsWith(dir, "EISDIR", /^cannot write capture .*: it is a folder \(EISDIR\)$/);
    assert.deepEqual(readdirSync(dir), ["plain"], "no temporary file is left behind");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("compareCaptures lines fields up with changed flags and relative deltas", () => {
  const cmp = compareCaptures(healthy, slow);
  const row = (f: string) => cmp.rows.find((r) => r.field === f)!;
  assert.equal(row("model").changed, false);
  assert.equal(row("tokens_per_s").delta, -400);
  assert.equal(row("tokens_per_s").relativeDelta, -0.4);
  assert.equal(row("step_ms.experts").relativeDelta, 0.8);
  assert.equal(row("step_ms.attention").status, "same");
  assert.equal(row("hot_experts").status, "changed");
  assert.equal(row("hot_experts").delta, null);
  assert.equal(row("eplb").changed, true);
  assert.equal(row("batch").status, "only-b");
  assert.equal(row("batch").a, undefined);
  assert.deepEqual(cmp.a, { name: "healthy run", timestamp: "2025-07-01T12:00:00Z" });
  assert.equal(cmp.changedCount, 6);
  assert.equal(cmp.sameCount, 3);
  assert.deepEqual(cmp.rows.map((r) => r.field).slice(-1), ["batch"], "fields only in b come last");
  const zero = compareCaptures(createCapture("x", { n: 0, m: 0 }), createCapture("y", { n: 5, m: 0 }));
  assert.equal(zero.rows[0].relativeDelta, null);
  assert.equal(zero.rows[1].relativeDelta, 0);
});

test("comparison renderings", () => {
  const cmp = compareCaptures(healthy, slow);
  assert.deepEqual(comparisonCells(cmp).find((c) => c[0] === "tokens_per_s"), ["tokens_per_s", "1000", "600", "-400 (-40.0%)"]);
  assert.equal(comparisonCells(cmp, true).length, cmp.changedCount);
  const text = formatComparison(cmp);
  assert.match(text, /^A: healthy run \(2025-07-01T12:00:00Z\)\nB: slow run\n/);
  assert.match(text, /6 of 9 fields differ\n$/);
  const md = comparisonMarkdown(cmp);
  assert.match(md, /^\| field \| healthy run \| slow run \| change \|/);
  assert.doesNotMatch(md, /2025-07-01/, "no timestamps in notebook tables");
});

test("identifier fields (a rank index, a seed) show their change without a percentage; amounts keep theirs", () => {
  const before = createCapture("a", { slowest_rank: 21, seed: 1, "run.seed": 3, ep: 32, tokens_per_rank: 100, rank_max_over_mean: 2, num_experts: 256, request_id: 7, hot_expert: 4 });
  const after = createCapture("b", { slowest_rank: 9, seed: 2, "run.seed": 5, ep: 64, tokens_per_rank: 50, rank_max_over_mean: 1, num_experts: 128, request_id: 8, hot_expert: 4 });
  const cmp = compareCaptures(before, after);
  const cells = new Map(comparisonCells(cmp).map((c) => [c[0], c[3]]));
  // Identifiers: the difference, no relative change (rank 9 is not "57% less" than rank 21).
  assert.equal(cells.get("slowest_rank"), "-12");
  assert.equal(cells.get("seed"), "+1");
  assert.equal(cells.get("run.seed"), "+2");
  assert.equal(cells.get("request_id"), "+1");
  assert.equal(cells.get("hot_expert"), "");
  // Amounts, per-unit amounts, ratios, counts and sizes (ep: 64 GPUs is twice 32) keep it.
  assert.equal(cells.get("ep"), "+32 (+100.0%)");
  assert.equal(cells.get("tokens_per_rank"), "-50 (-50.0%)");
  assert.equal(cells.get("rank_max_over_mean"), "-1 (-50.0%)");
  assert.equal(cells.get("num_experts"), "-128 (-50.0%)");
  const row = cmp.rows.find((r) => r.field === "slowest_rank")!;
  assert.deepEqual([row.delta, row.relativeDelta, row.identifier], [-12, null, true]);
  assert.equal(cmp.rows.find((r) => r.field === "ep")!.identifier, false);
  assert.match(formatComparison(cmp), /^slowest_rank\s+21\s+9\s+-12$/m);
  assert.deepEqual(
    ["seed", "id", "slowest_rank", "layer", "hot_expert", "x.node", "rng_seed", "ep", "tokens_per_rank", "num_experts", "rank_max_over_mean", "ranked", "experts"].map(isIdentifierField),
    [true, true, true, true, true, true, true, false, false, false, false, false, false],
  );
  assert.throws(() => isIdentifierField(3 as never), { name: "TypeError", message: "field must be a string, got 3" });
});

test("selectFields keeps named fields and their dotted children, in the given order", () => {
  const s = selectFields(healthy, ["step_ms", "model", "nope"]);
  assert.deepEqual(Object.keys(s.fields), ["step_ms.attention", "step_ms.experts", "step_ms.all_to_all", "model"]);
  assert.equal(s.name, healthy.name);
  assert.equal(s.timestamp, healthy.timestamp);
  assert.equal(Object.keys(healthy.fields).length, 8, "the input is unchanged");
  assert.throws(() => selectFields(healthy, "model" as never), (e: unknown) => e instanceof TypeError && /^names must be an array/.test((e as Error).message));
});

test("inputs are not mutated", () => {
  const a = Object.freeze(JSON.parse(JSON.stringify(healthy)));
  const b = Object.freeze(JSON.parse(JSON.stringify(slow)));
  compareCaptures(a, b);
  assert.deepEqual(a, healthy);
  const nested = { x: { y: 1 } };
  createCapture("n", nested);
  assert.deepEqual(nested, { x: { y: 1 } });
});

test("malformed records are rejected naming the file and the field", () => {
  const ok = { schema: CAPTURE_SCHEMA, version: 1, name: "x", fields: { a: 1 } };
  const cases: Array<[unknown, Function, RegExp]> = [
    [[], TypeError, /^f\.json: a capture must be a JSON object/],
    [{ ...ok, schema: "other" }, RangeError, /^f\.json: schema must be "moe-lab\/capture", got "other"/],
    [{ ...ok, version: 2 }, RangeError, /^f\.json: version must be 1, got 2/],
    [{ ...ok, name: "" }, TypeError, /^f\.json: name must be a non-empty string/],
    [{ ...ok, fields: [1] }, TypeError, /^f\.json: fields must be an object/],
    [{ ...ok, fields: { a: { b: 1 } } }, TypeError, /^f\.json: fields\.a must be a string, number, boolean, null or a list/],
    [{ ...ok, fields: { a: [1, {}] } }, TypeError, /^f\.json: fields\.a\[1\] must be/],
    [{ ...ok, fields: { " a": 1 } }, RangeError, /^f\.json: field names must be non-empty/],
    [{ ...ok, timestamp: "yesterday" }, RangeError, /^f\.json: timestamp must be an ISO 8601 date-time/],
    [{ ...ok, extra: 1 }, RangeError, /^f\.json: extra is not a known capture key/],
  ];
  for (const [value, kind, re] of cases) {
    assert.throws(() => validateCapture(value, "f.json"), (e: unknown) => e instanceof kind && re.test((e as Error).message), String(re));
  }
  assert.throws(() => createCapture("x", { n: NaN }), (e: unknown) => e instanceof RangeError && /fields\.n must be a finite number, got NaN/.test((e as Error).message));
  assert.throws(() => parseCapture("{", "g.json"), (e: unknown) => e instanceof SyntaxError && /^g\.json is not valid JSON/.test((e as Error).message));
  const dir = tempDir();
  try {
    const file = join(dir, "bad.json");
    writeFileSync(file, JSON.stringify({ ...ok, version: 0 }));
    assert.throws(() => readCapture(file), (e: unknown) => e instanceof RangeError && /^bad\.json: version must be 1/.test((e as Error).message));
    assert.throws(() => writeCapture(join(dir, "w.json"), { ...ok, version: 3 } as never), RangeError);
    assert.equal(existsSync(join(dir, "w.json")), false, "an invalid record is never written");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad arguments throw naming the parameter", () => {
  assert.throws(() => createCapture("x", null as never), (e: unknown) => e instanceof TypeError && /^fields must be an object/.test((e as Error).message));
  assert.throws(() => readCapture("" as never), (e: unknown) => e instanceof TypeError && /^file must be a non-empty path/.test((e as Error).message));
  assert.throws(() => compareCaptures(healthy, {} as never), (e: unknown) => e instanceof RangeError && /^b: schema must be/.test((e as Error).message));
  assert.throws(() => comparisonCells({} as never), (e: unknown) => e instanceof TypeError && /^comparison must come from compareCaptures/.test((e as Error).message));
});

// ---- the CLI: moe-lab compare ----


async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

test("moe-lab compare prints two captures side by side (text and --json)", async () => {
  const dir = tempDir();
  try {
    writeCapture(join(dir, "a.json"), healthy);
    writeCapture(join(dir, "b.json"), slow);
    const text = await cli(["compare", join(dir, "a.json"), join(dir, "b.json")]);
    assert.equal(text.code, 0, text.err);
    assert.equal(text.out, formatComparison(compareCaptures(healthy, slow)));
    const json = await cli(["compare", join(dir, "a.json"), join(dir, "b.json"), "--json", "--changed"]);
    const j = JSON.parse(json.out);
    assert.equal(j.rows.length, 6);
    assert.ok(j.rows.every((r: { changed: boolean }) => r.changed));
    const missing = await cli(["compare", join(dir, "a.json")]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /expected two capture files/);
    writeFileSync(join(dir, "bad.json"), "{}");
    const bad = await cli(["compare", join(dir, "a.json"), join(dir, "bad.json")]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /bad\.json: schema must be/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("moe-lab compare: a file that is not a capture is one line naming it, exit 2", async () => {
  const dir = tempDir();
  try {
    const a = join(dir, "a.json");
    writeCapture(a, healthy);
    writeFileSync(join(dir, "broken.json"), '{"schema": ');
    writeFileSync(join(dir, "empty.json"), "");
    mkdirSync(join(dir, "folder"));
    const esc = (x: string) => x.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const cases: Array<[string, string | RegExp]> = [
      // The parser's own words vary with the Node version; the line's start and shape do not.
      [join(dir, "broken.json"), new RegExp(`^moe-lab compare: ${esc(join(dir, "broken.json"))} is not valid JSON: [^\n]+\n$`)],
      [join(dir, "empty.json"), `moe-lab compare: ${join(dir, "empty.json")} is empty (expected a capture record in JSON)\n`],
      [join(dir, "folder"), `moe-lab compare: ${join(dir, "folder")} is a directory, not a capture file (JSON)\n`],
      [join(dir, "nope.json"), `moe-lab compare: ${join(dir, "nope.json")} does not exist\n`],
    ];
    for (const [file, message] of cases) {
      for (const argv of [["compare", a, file], ["compare", file, a]]) {
        const r = await cli(argv);
        assert.deepEqual([r.code, r.out], [2, ""], argv.join(" "));
        if (typeof message === "string") assert.equal(r.err, message);
        else assert.match(r.err, message);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("parseCapture: an empty text says it is empty", () => {
  assert.throws(() => parseCapture(" \n", "e.json"), { name: "SyntaxError", message: "e.json is empty (expected a capture record in JSON)" });
});
