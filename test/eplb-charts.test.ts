/** lib/eplb/charts.ts: the per-GPU before/after figure. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { gpuLoadFigure } from "../lib/eplb/charts";

test("gpuLoadFigure: two bar traces over GPUs and a mean line", () => {
  const fig = gpuLoadFigure([3, 1, 2], [2, 2, 2], "loads");
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data[0].x, [0, 1, 2]);
  assert.deepEqual(fig.data[1].y, [2, 2, 2]);
  const shapes = fig.layout.shapes as Array<{ y0: number }>;
  assert.equal(shapes[0].y0, 2);
  assert.throws(() => gpuLoadFigure([1, 2], [3], "t"), /after must have one load per GPU like before \(2\), got 1/);
});
