/**
 * The runner's kernel process: executes notebook cells through tslab's own compiler and
 * executor (the same code a Jupyter tslab kernel runs), in-process, without Jupyter or Python.
 *
 * Started by lib/runner.ts with `fork()`, cwd = the notebook's folder (tslab compiles from its
 * working directory). Protocol over IPC: parent sends `{type: "exec", index, code}`, worker
 * answers `{type: "done", index, ok, outputs}`, with `{type: "progress", index, text}` messages
 * while a cell updates a progress display (lib/progress.ts). One worker per notebook, so notebooks never share
 * state. tslab internals used here are pinned (tslab 1.0.22) and covered by test/runner.test.ts.
 */
import type { Output } from "./notebook";
import { PROGRESS_METADATA_KEY } from "./progress";

interface ExecRequest {
  type: "exec";
  index: number;
  code: string;
}

interface DisplayMessage {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient?: { display_id?: string };
}

/* eslint-disable @typescript-eslint/no-var-requires */
const { createConverter } = require("tslab/dist/converter");
const { createExecutor } = require("tslab/dist/executor");
const { JupyterHandlerImpl } = require("tslab/dist/jupyter");
/* eslint-enable @typescript-eslint/no-var-requires */

function start(): void {
  let nodeConv: unknown = null;
  let browserConv: unknown = null;
  const convs = {
    get node() {
      return (nodeConv ??= createConverter({ isJS: false, isBrowser: false }));
    },
    get browser() {
      return (browserConv ??= createConverter({ isJS: false, isBrowser: true }));
    },
    close() {
      (nodeConv as { close?: () => void } | null)?.close?.();
      (browserConv as { close?: () => void } | null)?.close?.();
    },
  };
  void convs.node; // warm the compiler before the first cell, as tslab's kernel does
  const executor = createExecutor(process.cwd(), convs, {
    log: (...args: unknown[]) => console.log(...args),
    error: (...args: unknown[]) => console.error(...args),
  });
  const handler = new JupyterHandlerImpl(executor, false);
  const send = (msg: unknown): void => void process.send?.(msg);

  process.on("message", async (msg: ExecRequest) => {
    if (!msg || msg.type !== "exec") return;
    const outputs: Output[] = [];
    const displayIndex = new Map<string, number>();
    const writeStream = (name: "stdout" | "stderr", text: string): void => {
      const last = outputs[outputs.length - 1];
      if (last && last.output_type === "stream" && last.name === name) last.text = String(last.text) + text;
      else outputs.push({ output_type: "stream", name, text });
    };
    const writeDisplayData = (d: DisplayMessage, update: boolean): void => {
      const id = d.transient?.display_id;
      const out: Output = { output_type: "display_data", data: d.data, metadata: d.metadata ?? {} };
      // Progress displays also go to the parent while the cell runs (the CLI prints them).
      if (d.metadata && d.metadata[PROGRESS_METADATA_KEY]) send({ type: "progress", index: msg.index, text: String(d.data["text/plain"] ?? "") });
      if (update && id !== undefined && displayIndex.has(id)) {
        outputs[displayIndex.get(id) as number] = out;
        return;
      }
      if (id !== undefined) displayIndex.set(id, outputs.length);
      outputs.push(out);
    };
    let ok = false;
    try {
      const reply = await handler.handleExecute({ code: msg.code }, writeStream, writeDisplayData);
      ok = reply.status === "ok";
    } catch (e) {
      writeStream("stderr", `${(e as Error)?.stack ?? e}\n`);
    }
    send({ type: "done", index: msg.index, ok, outputs });
  });
  process.on("uncaughtException", (err) => {
    send({ type: "crash", message: String(err?.stack ?? err) });
  });
  process.on("unhandledRejection", (reason) => {
    send({ type: "crash", message: `unhandled promise rejection: ${String((reason as Error)?.stack ?? reason)}` });
  });
  send({ type: "ready" });
}

start();
