import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createProgress, sweep, PROGRESS_METADATA_KEY } from "../lib/progress";
import type { DisplayMessage } from "../lib/display";
import { executeNotebook, RunProgress } from "../lib/runner";
import { Notebook } from "../lib/notebook";
import { repoRoot } from "../lib/paths";

function recorder(): { calls: { msg: DisplayMessage; update: boolean }[]; write: (msg: DisplayMessage, update: boolean) => void } {
  const calls: { msg: DisplayMessage; update: boolean }[] = [];
  return { calls, write: (msg, update) => void calls.push({ msg, update }) };
}

test("createProgress: one display, updated in place at most `updates` times, final state last", () => {
  const r = recorder();
  const p = createProgress("imbalance over 200 seeds", 200, { write: r.write });
  let shown = 0;
  for (let i = 0; i < 200; i++) if (p.advance()) shown++;
  assert.equal(p.done, 200);
  assert.equal(r.calls[0].update, false, "first call creates the display");
  assert.ok(r.calls.slice(1).every((c) => c.update), "later calls update it");
  assert.equal(new Set(r.calls.map((c) => c.msg.transient.display_id)).size, 1, "one display id");
  assert.equal(shown, r.calls.length - 1);
  assert.ok(r.calls.length - 1 <= 20 && r.calls.length - 1 >= 10, `updates: ${r.calls.length - 1}`);
  const last = r.calls[r.calls.length - 1].msg;
  assert.equal(last.data["text/plain"], "imbalance over 200 seeds: 200/200 done");
  assert.deepEqual(last.metadata[PROGRESS_METADATA_KEY], { label: "imbalance over 200 seeds", done: 200, total: 200 });
  assert.match(String(last.data["text/html"]), /<progress max="200" value="200"><\/progress>/);
  // Intermediate states count up.
  const dones = r.calls.map((c) => (c.msg.metadata[PROGRESS_METADATA_KEY] as { done: number }).done);
  assert.deepEqual([...dones].sort((a, b) => a - b), dones);
});

test("createProgress: escapes the label in HTML; every update is shown when total <= updates", () => {
  const r = recorder();
  const p = createProgress("<b>x</b>", 3, { write: r.write });
  p.advance();
  p.advance(2);
  assert.equal(r.calls.length, 3);
  assert.ok(!String(r.calls[2].msg.data["text/html"]).includes("<b>"));
  assert.match(String(r.calls[2].msg.data["text/html"]), /&lt;b&gt;x&lt;\/b&gt;: 3\/3 done/);
});

test("createProgress / sweep: bad input names the parameter", () => {
  assert.throws(() => createProgress("", 3, { write: null }), /label must be a non-empty string, got ""/);
  assert.throws(() => createProgress("x", -1, { write: null }), (e: Error) => e instanceof RangeError && /total/.test(e.message));
  assert.throws(() => createProgress("x", 1.5, { write: null }), /total/);
  assert.throws(() => createProgress("x", 3, { write: null, updates: 0 }), /options\.updates/);
  assert.throws(() => createProgress("x", 3, { write: 5 as never }), /options\.write must be a function/);
  const p = createProgress("x", 2, { write: null });
  assert.equal(p.advance(2), false, "no display outside a notebook");
  assert.throws(() => p.advance(), /n must keep done <= total \(2\), got 1 with 2 done/);
  return assert.rejects(sweep("x", "abc" as never, (c) => c), /items must be an array/);
});

test("sweep: the results of map, in order, with the progress display shown", async () => {
  const r = recorder();
  const out = await sweep("squares", [1, 2, 3, 4], (x, i) => x * x + i, { write: r.write });
  assert.deepEqual(out, [1, 5, 11, 19]);
  assert.equal(r.calls[r.calls.length - 1].msg.data["text/plain"], "squares: 4/4 done");
  assert.deepEqual(await sweep("none", [], () => 1, { write: null }), []);
});

test("runner: a sweep's progress reaches onProgress while the cell runs; the saved output is the final state", async () => {
  const dir = mkdtempSync(join(tmpdir(), "moe-lab-progress-"));
  symlinkSync(join(repoRoot(), "lib"), join(dir, "lib"));
  symlinkSync(join(repoRoot(), "node_modules"), join(dir, "node_modules"));
  const code = 'import { sweep } from "./lib/progress";\nconst xs = await sweep("slow items", [1, 2, 3, 4, 5], (x) => { const t = Date.now(); while (Date.now() - t < 20); return x * 2; });\nxs.join(",")';
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [{ id: "c0", cell_type: "code", source: code, metadata: {}, outputs: [], execution_count: null }],
  };
  const events: RunProgress[] = [];
  const { notebook, failure } = await executeNotebook(nb, { cwd: dir, onProgress: (e) => events.push(e) });
  assert.equal(failure, null);
  const texts = events.filter((e): e is Extract<RunProgress, { kind: "cell-progress" }> => e.kind === "cell-progress").map((e) => e.text);
  assert.deepEqual(texts, ["slow items: 0/5", "slow items: 1/5", "slow items: 2/5", "slow items: 3/5", "slow items: 4/5", "slow items: 5/5 done"]);
  const outs = notebook.cells[0].outputs ?? [];
  assert.equal(outs.length, 2, JSON.stringify(outs));
  assert.equal((outs[0] as { data: Record<string, unknown> }).data["text/plain"], "slow items: 5/5 done");
  assert.deepEqual(outs[1], { output_type: "stream", name: "stdout", text: "2,4,6,8,10\n" });
});
