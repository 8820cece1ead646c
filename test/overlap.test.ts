import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { MicroBatchWork, OVERLAP_SCHEDULES, overlapDelayStages, overlapTimelineFigure, twoBatchOverlap } from "../lib/throughput";
import { COLORS } from "../lib/charts";
import { figureToSvg } from "../lib/svg-chart";

const zero: MicroBatchWork = { attentionInputSeconds: 0, attentionCoreSeconds: 0, sharedExpertSeconds: 0, routedExpertSeconds: 0, dispatchSeconds: 0, combineSeconds: 0 };
const computeOf = (w: MicroBatchWork) => w.attentionInputSeconds + w.attentionCoreSeconds + w.sharedExpertSeconds + w.routedExpertSeconds;
const close = (a: number, b: number, what = "") => assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${what}: ${a} vs ${b}`);

test("twoBatchOverlap: without communication the compute of both micro-batches adds up; without compute the transfers do", () => {
  for (const schedule of OVERLAP_SCHEDULES) {
    for (const mode of ["decode", "prefill"] as const) {
      const w = { ...zero, attentionInputSeconds: 1, attentionCoreSeconds: 2, sharedExpertSeconds: 0.5, routedExpertSeconds: 3 };
      const r = twoBatchOverlap({ mode, schedule, numLayers: 7, work: w });
      close(r.seconds, 2 * 7 * 6.5, `${schedule} ${mode}`);
      assert.equal(r.computeIdleSeconds, 0);
      const c = twoBatchOverlap({ mode, schedule, numLayers: 7, work: { ...zero, dispatchSeconds: 2, combineSeconds: 1 } });
      close(c.seconds, 2 * 7 * 3, `${schedule} ${mode}`);
      close(c.communicationSeconds, 2 * 7 * 3, `${schedule} ${mode}`);
      assert.equal(c.computeSeconds, 0);
    }
  }
});

test("twoBatchOverlap: one layer, worked by hand in both schedules", () => {
  const w = { ...zero, attentionCoreSeconds: 1, routedExpertSeconds: 1, dispatchSeconds: 1, combineSeconds: 1 };
  // Prefill (B with A): A attention 0-1, dispatch 1-2; B attention 1-2, dispatch 2-3; A experts 2-3,
  // combine 3-4; B experts 3-4, combine 4-5. Five, where the parts of the whole batch add to eight.
  assert.equal(twoBatchOverlap({ mode: "prefill", numLayers: 1, work: w }).seconds, 5);
  // Decode (B two stages behind): A projections 0-1, core 1-2, dispatch 2-3; B projections 2-3;
  // A experts 3-4, combine 4-5; B core 4-5; A waits for its combine (5); B dispatch 5-6, experts
  // 6-7, combine 7-8.
  const d = twoBatchOverlap({ mode: "decode", numLayers: 1, work: { ...w, attentionInputSeconds: 1, attentionCoreSeconds: 1 }, timeline: true });
  assert.equal(d.seconds, 8);
  assert.equal(d.delayStages, 2);
  assert.deepEqual(
    d.segments?.map((s) => `${"AB"[s.microBatch]} ${s.op} ${s.startSeconds}-${s.endSeconds}`),
    ["A attention input 0-1", "A attention core 1-2", "A dispatch 2-3", "B attention input 2-3", "A routed experts 3-4", "A combine 4-5", "B attention core 4-5", "B dispatch 5-6", "B routed experts 6-7", "B combine 7-8"],
  );
});

test("twoBatchOverlap: vLLM's dual batch overlap, one layer worked by hand, in vLLM's order", () => {
  // Decode (B one stage behind, switching at every send and receive): A attention 0-2, dispatch
  // 2-3; B attention 2-4; B dispatch 4-5 while A's experts run 4-5; A combine 5-6 behind A's
  // shared experts 5-6; B experts 6-7; B combine 7-8 behind B's shared experts 7-8. Nothing waits.
  const w = { ...zero, attentionCoreSeconds: 2, routedExpertSeconds: 1, sharedExpertSeconds: 1, dispatchSeconds: 1, combineSeconds: 1 };
  const v = twoBatchOverlap({ mode: "decode", schedule: "vllm", numLayers: 1, work: w, timeline: true });
  assert.deepEqual([v.seconds, v.computeIdleSeconds, v.delayStages], [8, 0, 1]);
  assert.deepEqual(
    v.segments?.map((s) => `${"AB"[s.microBatch]} ${s.op} ${s.startSeconds}-${s.endSeconds}`),
    ["A attention 0-2", "A dispatch 2-3", "B attention 2-4", "B dispatch 4-5", "A routed experts 4-5", "A combine 5-6", "A shared experts 5-6", "B routed experts 6-7", "B combine 7-8", "B shared experts 7-8"],
  );
  // Prefill (high-throughput kernels, B with A): both attentions, both experts, both shared experts,
  // then each waits for its combine: A attention 0-2, dispatch 2-3; B attention 2-4, dispatch 4-5;
  // A experts 4-5 (its tokens arrived at 3), combine 5-6; B waits for its tokens (5), experts 5-6,
  // combine 6-7; A shared 6-7; B shared 7-8. Eight, where SGLang's prefill order waits for A's
  // combine before B's shared experts run.
  const p = twoBatchOverlap({ mode: "prefill", schedule: "vllm", numLayers: 2, work: w, timeline: true });
  assert.equal(p.delayStages, 0);
  assert.deepEqual(
    p.segments?.filter((s) => s.layer === 0).map((s) => `${"AB"[s.microBatch]} ${s.op} ${s.startSeconds}-${s.endSeconds}`),
    ["A attention 0-2", "A dispatch 2-3", "B attention 2-4", "B dispatch 4-5", "A routed experts 4-5", "A combine 5-6", "B routed experts 5-6", "B combine 6-7", "A shared experts 6-7", "B shared experts 7-8"],
  );
  // The next layer's attention of each micro-batch comes after its combine has arrived, both shared experts first.
  const next = p.segments?.filter((s) => s.layer === 1 && s.op === "attention").map((s) => s.startSeconds);
  assert.deepEqual(next, [8, 10]);
  // SGLang's decode order on the same work: B's dispatch waits for A's experts and combine to clear the link.
  assert.equal(twoBatchOverlap({ mode: "decode", numLayers: 1, work: w }).seconds, 9);
  // Over many layers vLLM's order keeps the link busy behind attention and experts alike: per layer
  // it approaches the compute (8), where SGLang's decode order waits each layer for the combine.
  const v40 = twoBatchOverlap({ mode: "decode", schedule: "vllm", numLayers: 40, work: w });
  assert.ok(v40.computeIdleSeconds / 40 < 0.05, `${v40.computeIdleSeconds / 40} per layer`);
  assert.deepEqual(
    OVERLAP_SCHEDULES.flatMap((s) => (["decode", "prefill"] as const).map((m) => overlapDelayStages(s, m))),
    [2, 0, 1, 0],
  );
});

test("twoBatchOverlap: between a perfect overlap and none; each resource does one thing at a time; data arrives before it is used", () => {
  const t = fc.double({ min: 0, max: 10, noNaN: true });
  fc.assert(
    fc.property(fc.constantFrom("decode" as const, "prefill" as const), fc.constantFrom(...OVERLAP_SCHEDULES), fc.integer({ min: 1, max: 6 }), t, t, t, t, t, t, (mode, schedule, numLayers, a, b, c, d, e, f) => {
      const work = { attentionInputSeconds: a, attentionCoreSeconds: b, sharedExpertSeconds: c, routedExpertSeconds: d, dispatchSeconds: e, combineSeconds: f };
      const r = twoBatchOverlap({ mode, schedule, numLayers, work, timeline: true });
      const compute = 2 * numLayers * computeOf(work);
      const comm = 2 * numLayers * (e + f);
      close(r.computeSeconds, compute, "compute");
      close(r.communicationSeconds, comm, "communication");
      assert.ok(r.seconds >= Math.max(compute, comm) * (1 - 1e-12) && r.seconds <= (compute + comm) * (1 + 1e-12), `${r.seconds}`);
      close(r.computeIdleSeconds, r.seconds - compute, "idle");
      const segs = r.segments ?? [];
      for (const resource of ["compute", "communication"] as const) {
        const on = segs.filter((s) => s.resource === resource).sort((x, y) => x.startSeconds - y.startSeconds);
        for (let i = 1; i < on.length; i++) assert.ok(on[i].startSeconds >= on[i - 1].endSeconds - 1e-12, `${resource} overlaps itself`);
      }
      for (const s of segs.filter((x) => x.op === "routed experts")) {
        const dispatch = segs.find((x) => x.op === "dispatch" && x.microBatch === s.microBatch && x.layer === s.layer);
        if (dispatch) assert.ok(s.startSeconds >= dispatch.endSeconds - 1e-12, "experts wait for their tokens");
      }
      // A micro-batch's next attention starts only once its combine has brought the tokens back.
      for (const s of segs.filter((x) => x.resource === "compute" && x.op.startsWith("attention") && x.layer > 0)) {
        const combine = segs.find((x) => x.op === "combine" && x.microBatch === s.microBatch && x.layer === s.layer - 1);
        if (combine) assert.ok(s.startSeconds >= combine.endSeconds - 1e-12, "attention waits for the previous layer's combine");
      }
    }),
    { numRuns: 300, seed: 5 },
  );
});

test("twoBatchOverlap: balanced stages hide the transfers; unbalanced ones leave the compute stream idle", () => {
  // Prefill with attention = experts = dispatch = combine: after the first layer, one micro-batch's
  // transfer always runs under the other's compute.
  const even = twoBatchOverlap({ mode: "prefill", numLayers: 40, work: { ...zero, attentionCoreSeconds: 1, routedExpertSeconds: 1, dispatchSeconds: 1, combineSeconds: 1 } });
  assert.ok(even.seconds / 40 < 4.1, `${even.seconds / 40} per layer`);
  // All compute in attention: experts take no time, so each combine waits right behind its dispatch.
  const skewed = twoBatchOverlap({ mode: "prefill", numLayers: 40, work: { ...zero, attentionCoreSeconds: 2, dispatchSeconds: 1, combineSeconds: 1 } });
  assert.ok(skewed.seconds / 40 > 4.5, `${skewed.seconds / 40} per layer: max(compute, communication) would say 4`);
});

test("twoBatchOverlap: bad input names the parameter", () => {
  assert.throws(() => twoBatchOverlap({ mode: "decode", numLayers: 0, work: zero }), /RangeError: numLayers must be .*got 0/);
  assert.throws(() => twoBatchOverlap({ mode: "training" as never, numLayers: 1, work: zero }), /mode must be one of/);
  assert.throws(() => twoBatchOverlap({ mode: "decode", schedule: "dbo" as never, numLayers: 1, work: zero }), /RangeError: schedule must be one of sglang, vllm, got "dbo"/);
  assert.throws(() => overlapDelayStages("trtllm" as never, "decode"), /RangeError: schedule must be one of sglang, vllm, got "trtllm"/);
  assert.throws(() => twoBatchOverlap({ mode: "decode", numLayers: 1, work: { ...zero, dispatchSeconds: -1 } }), /work\.dispatchSeconds must be .*got -1/);
  assert.throws(() => twoBatchOverlap({ mode: "decode", numLayers: 1, work: { ...zero, combineSeconds: undefined } as never }), /work\.combineSeconds/);
  assert.throws(() => twoBatchOverlap({ mode: "decode", numLayers: 1, work: null as never }), /TypeError: work must be/);
  assert.throws(() => twoBatchOverlap(null as never), /TypeError: input must be an object/);
});

test("overlapTimelineFigure: one box per operation in the window, A blue and B orange, times from A's start of the layer", () => {
  const w = { ...zero, attentionInputSeconds: 1e-4, attentionCoreSeconds: 2e-5, sharedExpertSeconds: 3e-5, routedExpertSeconds: 5e-5, dispatchSeconds: 4e-5, combineSeconds: 8e-5 };
  const r = twoBatchOverlap({ mode: "decode", numLayers: 6, work: w, timeline: true });
  const segs = r.segments ?? [];
  const fig = overlapTimelineFigure(segs, { title: "t", fromLayer: 2, layers: 2 });
  const shapes = fig.layout.shapes as Array<{ x0: number; x1: number; y0: number; fillcolor: string }>;
  const t0 = Math.min(...segs.filter((s) => s.microBatch === 0 && s.layer === 2).map((s) => s.startSeconds));
  const t1 = Math.min(...segs.filter((s) => s.microBatch === 0 && s.layer === 4).map((s) => s.startSeconds));
  const inside = segs.filter((s) => s.endSeconds > t0 && s.startSeconds < t1);
  assert.equal(shapes.length, inside.length);
  assert.equal(Math.min(...shapes.map((s) => s.x0)), 0);
  close(Math.max(...shapes.map((s) => s.x1)), +((t1 - t0) * 1e6).toFixed(2), "the window ends where A's layer 4 starts");
  assert.deepEqual([...new Set(shapes.map((s) => s.fillcolor))].sort(), [COLORS.base, COLORS.cap].sort());
  // Compute boxes on the upper lane, transfers on the lower; the compute boxes never overlap.
  const compute = shapes.filter((s) => s.y0 > 0.5).sort((a, b) => a.x0 - b.x0);
  assert.equal(compute.length, inside.filter((s) => s.resource === "compute").length);
  for (let i = 1; i < compute.length; i++) assert.ok(compute[i].x0 >= compute[i - 1].x1 - 1e-9);
  // Its static SVG draws every box, and no y tick labels (the lanes are named instead).
  const svg = figureToSvg(fig);
  assert.equal([...svg.matchAll(/<rect class="shape"/g)].length, shapes.length);
  assert.doesNotMatch(svg, /class="ytick"/);
  assert.match(svg, />compute stream</);
  assert.throws(() => overlapTimelineFigure(segs, { title: "t", fromLayer: 9 }), /RangeError: fromLayer must name a layer of the schedule \(0 to 5\), got 9/);
  assert.throws(() => overlapTimelineFigure("x" as never, { title: "t" }), /TypeError: segments must be an array/);
  assert.throws(() => overlapTimelineFigure(segs, {} as never), /TypeError: options.title must be a string/);
});
