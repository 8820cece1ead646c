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
 * @example tslabWriter() // => null (outside a notebook)
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

/** Kernel-wide state (globalThis, not module state: a re-run import cell can load a second copy of this module). */
interface FrontendState {
  __moeLabFrontendHook?: boolean;
  __moeLabFrontendConnects?: number;
}

/**
 * How many times a Jupyter front end has connected to this kernel since the hook was installed.
 * A page that opens (or reloads, or reconnects) sends `kernel_info_request`; the first call
 * installs a wrapper around tslab's handler that counts them (tslab 1.0.22's
 * `ZmqServer.prototype.handleKernelInfo`). `show` re-sends plotly.js when the count moves, because
 * a reloaded page has lost it while the kernel kept its "already sent" flag. Where tslab's server
 * is absent (moe-lab's runner, plain Node) the count stays 0.
 * @example frontendConnects() // => 0 (outside a Jupyter kernel)
 */
export function frontendConnects(): number {
  const g = globalThis as FrontendState;
  if (!g.__moeLabFrontendHook) {
    g.__moeLabFrontendHook = true;
    g.__moeLabFrontendConnects = 0;
    try {
      // eslint-disable-next-line @typescript-eslint/no-var-requires
      const jupyter = require("tslab/dist/jupyter") as { ZmqServer?: { prototype: { handleKernelInfo?: (...args: unknown[]) => unknown } } };
      const proto = jupyter.ZmqServer?.prototype;
      const original = proto?.handleKernelInfo;
      if (proto && typeof original === "function") {
        proto.handleKernelInfo = function (this: unknown, ...args: unknown[]) {
          g.__moeLabFrontendConnects = (g.__moeLabFrontendConnects ?? 0) + 1;
          return original.apply(this, args);
        };
      }
    } catch {
      // Not inside tslab: nothing to count.
    }
  }
  return g.__moeLabFrontendConnects ?? 0;
}

/**
 * Escapes text for HTML element content and attribute values.
 * @example escapeHtml("<b>&") // => "&lt;b&gt;&amp;"
 */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}
