/**
 * The figure data type and a chart's identity in a notebook, shared by the chart builders
 * (./charts), the static SVG renderer (./svg-chart) and the page export (./export-html).
 */
import { describeValue } from "./validate";

/** One Plotly trace: `{ type: "bar", x: [...], y: [...], name: "..." , ... }`. */
export type Trace = Record<string, unknown> & { type?: string; name?: string };
/** Plotly layout: `{ title: {text}, xaxis: {title: {text}}, shapes: [...], ... }`. */
export type Layout = Record<string, unknown>;

/** A Plotly figure: the data of a chart, with no behaviour. */
export interface Figure {
  data: Trace[];
  layout: Layout;
}

/** The MIME type of a Plotly figure output. */
export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/**
 * The id of a chart in an exported page, from its 0-based cell and output positions:
 * `chart-<cell>-<output>`, both 1-based. Exported pages (./export-html) and static SVGs (./svg-chart) use these ids.
 * @throws {RangeError} when a position is not an integer >= 0.
 * @example chartElementId(3, 0) // => "chart-4-1"
 */
export function chartElementId(cellIndex: number, outputIndex: number): string {
  for (const [name, v] of [["cellIndex", cellIndex], ["outputIndex", outputIndex]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be an integer >= 0, got ${describeValue(v)}`);
  }
  return `chart-${cellIndex + 1}-${outputIndex + 1}`;
}
