/**
 * Every committed notebook: stored clean, shaped as the style guide says, and executed end to
 * end through the in-process runner (its Checks cells assert the numbers its prose quotes).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../lib/paths";
import { readNotebook, cellSource, listParameters, findTaggedCell } from "../lib/notebook";
import { runCli } from "./helpers";

const dir = join(repoRoot(), "notebooks");
const files = readdirSync(dir).filter((f) => f.endsWith(".ipynb")).sort();

test("notebooks are committed clean and follow the notebook anatomy", () => {
  assert.ok(files.length >= 1, "at least one notebook");
  for (const f of files) {
    const nb = readNotebook(join(dir, f));
    assert.equal(nb.nbformat, 4, f);
    const ids = nb.cells.map((c) => c.id);
    assert.equal(new Set(ids).size, ids.length, `${f}: cell ids unique`);
    for (const c of nb.cells) {
      if (c.cell_type !== "code") continue;
      assert.deepEqual(c.outputs, [], `${f}: committed without outputs`);
      assert.equal(c.execution_count, null, `${f}: no execution counts`);
    }
    assert.ok(findTaggedCell(nb, "parameters") >= 0, `${f}: has a cell tagged "parameters"`);
    assert.ok(listParameters(nb, f).length >= 1, `${f}: parameters cell holds literals`);
    const md = nb.cells.filter((c) => c.cell_type === "markdown").map(cellSource).join("\n");
    assert.match(md, /^# \d\d · /m, `${f}: numbered title`);
    for (const h of ["Checks", "Summary", "Exercises"]) assert.match(md, new RegExp(`^## ${h}`, "m"), `${f}: has a ${h} section`);
    const code = nb.cells.filter((c) => c.cell_type === "code").map(cellSource).join("\n");
    assert.match(code, /assert/, `${f}: Checks assert something`);
    assert.doesNotMatch(code, /Math\.random/, `${f}: no unseeded randomness`);
  }
});

test("every notebook executes through the in-process runner, with charts in its HTML page", () => {
  const out = mkdtempSync(join(tmpdir(), "moe-lab-notebooks-"));
  const r = runCli(["run", "--all", "--out", out, "--quiet"], repoRoot(), 1_500_000);
  assert.equal(r.status, 0, `moe-lab run --all failed:\n${r.stderr}`);
  for (const f of files) {
    const page = join(out, f.replace(/\.ipynb$/, ".html"));
    assert.ok(existsSync(page), `${page} written`);
    const html = readFileSync(page, "utf8");
    assert.ok((html.match(/<div class="chart"/g) ?? []).length >= 1, `${f}: at least one chart`);
    assert.match(html, /all checks passed|Checks/);
  }
  assert.ok(existsSync(join(out, "index.html")));
});
