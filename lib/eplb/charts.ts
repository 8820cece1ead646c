/**
 * EPLB charts: per-GPU loads before and after a placement, side by side with the mean line.
 * Used in notebooks/03-eplb.ipynb (twice) and 04-eplb-over-time.ipynb.
 */
import { figure, withLines, horizontalLine, COLORS, Figure } from "../charts";
import { requireNumberArray } from "../validate";

/**
 * Grouped bars of per-GPU load before (muted) and after (green) a rebalance, with the mean.
 * @param before `[gpus]` load per GPU (tokens) under the old placement.
 * @param after `[gpus]` load per GPU under the new placement (same total).
 * @throws {RangeError} when the lengths differ or loads are negative/NaN.
 * @example gpuLoadFigure([3, 1], [2, 2], "t").data.length // => 2
 */
export function gpuLoadFigure(before: ArrayLike<number>, after: ArrayLike<number>, title: string): Figure {
  requireNumberArray("before", before, { min: 0 });
  requireNumberArray("after", after, { min: 0 });
  if (before.length !== after.length) {
    throw new RangeError(`after must have one load per GPU like before (${before.length}), got ${after.length}`);
  }
  const gpus = Array.from({ length: before.length }, (_, g) => g);
  let sum = 0;
  for (let g = 0; g < after.length; g++) sum += after[g];
  const fig = figure(
    [
      { type: "bar", name: "before", x: gpus, y: Array.from(before), marker: { color: COLORS.muted } },
      { type: "bar", name: "after EPLB", x: gpus, y: Array.from(after), marker: { color: COLORS.eplb } },
    ],
    { title, xTitle: "GPU (rank)", yTitle: "load (tokens)", layout: { barmode: "group" } },
  );
  return withLines(fig, [horizontalLine(sum / after.length, COLORS.mean, "mean")]);
}
