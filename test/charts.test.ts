import { test } from "node:test";
import assert from "node:assert/strict";
import { figure, figureBundle, figureSummary, figureId, expertLoadFigure, withLines, horizontalLine, show, PLOTLY_MIME, COLORS } from "../lib/charts";

test("figure: plain data with title and axis titles; traces copied", () => {
  const traces = [{ type: "bar", y: [1] }];
  const f = figure(traces, { title: "T", xTitle: "x", yTitle: "y", layout: { barmode: "group" } });
  assert.deepEqual(f.layout.title, { text: "T" });
  assert.deepEqual(f.layout.xaxis, { title: { text: "x" } });
  assert.equal(f.layout.barmode, "group");
  assert.notEqual(f.data[0], traces[0]);
  assert.throws(() => figure("x" as never, { title: "T" }), { name: "TypeError", message: /^traces must be an array/ });
  assert.throws(() => figure([], {} as never), { name: "TypeError", message: /^options.title must be a string/ });
});

test("expertLoadFigure: hot experts highlighted, mean and cap lines", () => {
  const f = expertLoadFigure([5, 1, 1, 1], { title: "L", hotExperts: 1, meanLoad: 2, cap: 2.4 });
  assert.deepEqual((f.data[0].marker as { color: string[] }).color, [COLORS.hot, COLORS.base, COLORS.base, COLORS.base]);
  assert.deepEqual((f.layout.shapes as Array<{ y0: number }>).map((s) => s.y0), [2, 2.4]);
  assert.throws(() => expertLoadFigure([1, -1], { title: "L" }), { name: "RangeError", message: /^loads\[1\]/ });
  assert.throws(() => expertLoadFigure([1], { title: "L", hotExperts: 2 }), { name: "RangeError", message: /^hotExperts/ });
});

test("bundle: plotly JSON, HTML and text in one output; ids stable", () => {
  const f = withLines(figure([{ type: "scatter", name: "s", y: [3, 1, 2] }], { title: "T" }), [horizontalLine(1, "red", "one")]);
  const b = figureBundle(f);
  assert.deepEqual(Object.keys(b).sort(), [PLOTLY_MIME, "text/html", "text/plain"].sort());
  assert.equal(figureSummary(f), "[chart] T\n  s (scatter): 3 points, y from 1 to 3");
  assert.equal(figureId(f), figureId(JSON.parse(JSON.stringify(f))));
  assert.match(String(b["text/html"]), new RegExp(figureId(f)));
});

test("show outside a notebook prints the text summary", () => {
  const logs: string[] = [];
  const orig = console.log;
  console.log = (s: string) => void logs.push(s);
  try {
    show(figure([{ type: "bar", y: [1] }], { title: "Plain" }));
  } finally {
    console.log = orig;
  }
  assert.match(logs[0], /^\[chart\] Plain/);
  assert.throws(() => show({} as never), { name: "TypeError", message: /^fig must be/ });
});
