/**
 * The one place moe-lab talks to tslab's display machinery, shared by charts (`show`) and
 * progress displays, plus HTML escaping for what they emit.
 */

/** A display message as tslab's kernel sends it (`display_data` / `update_display_data`). */
export interface DisplayMessage {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient: { display_id?: string };
}

/** Emits a display (`update` false) or replaces the display with the same `transient.display_id`. */
export type WriteDisplayData = (msg: DisplayMessage, update: boolean) => void;

/**
 * tslab's display writer when running inside a tslab kernel (or moe-lab's runner), else null
 * (plain Node: tests, the CLI).
 * @example tslabWriter() // => null outside a notebook
 */
export function tslabWriter(): WriteDisplayData | null {
  try {
    // tslab's internal hook: the only way to emit several MIME types in one output (tslab 1.0.22).
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    const jupyter = require("tslab/dist/jupyter") as { lastWriteDisplayData: WriteDisplayData | null };
    return jupyter.lastWriteDisplayData;
  } catch {
    return null;
  }
}

/**
 * Escapes text for HTML element content and attribute values.
 * @example escapeHtml("<b>&") // => "&lt;b&gt;&amp;"
 */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
