import { test } from "node:test";
import assert from "node:assert/strict";
import { figure, figureBundle, figureSummary, figureId, expertLoadFigure, withLines, horizontalLine, verticalLine, show, PLOTLY_MIME, COLORS } from "../lib/charts";

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

test("withLines: labels on log axes are placed in log10 units (Plotly's annotation rule); shapes stay in data units", () => {
  const logY = figure([{ type: "bar", x: ["a"], y: [50] }], { title: "T", layout: { yaxis: { type: "log" } } });
  const f = withLines(logY, [horizontalLine(100, "red", "memory")]);
  const ann = (f.layout.annotations as Array<{ y: number }>)[0];
  const shape = (f.layout.shapes as Array<{ y0: number; y1: number }>)[0];
  assert.equal(ann.y, 2);
  assert.deepEqual([shape.y0, shape.y1], [100, 100]);
  const logX = figure([], { title: "T", layout: { xaxis: { type: "log" } } });
  const g = withLines(logX, [verticalLine(1000, "red", "ridge"), horizontalLine(3, "blue", "limit")]);
  assert.deepEqual((g.layout.annotations as Array<{ x: number; y: number }>).map((a) => [a.x, a.y]), [[3, 1], [1, 3]]);
  const linear = withLines(figure([], { title: "T" }), [horizontalLine(100, "red", "m")]);
  assert.equal((linear.layout.annotations as Array<{ y: number }>)[0].y, 100);
  assert.throws(() => withLines(null as never, []), /fig must be a Plotly figure/);
  assert.throws(() => withLines(logY, "x" as never), /lines must be an array/);
});
