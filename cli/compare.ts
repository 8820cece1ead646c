/**
 * `moe-lab compare A.json B.json`: two capture records side by side, field by field, with what
 * changed and by how much (numbers: difference and relative change).
 */
import { Command, CliError, getFlag, OptionSpecs, startCommand } from "./args";
import { compareCaptures, formatComparison, readCapture } from "../lib/capture";

const SPECS: OptionSpecs = {
  json: { kind: "boolean", help: "print the comparison as one JSON object" },
  changed: { kind: "boolean", help: "show only the fields that differ" },
  help: { kind: "boolean", help: "show this help" },
};

export const compareCommand: Command = {
  summary: "compare two capture records (from --capture or a notebook) field by field",
  run(argv, io) {
    const args = startCommand(argv, SPECS, io, { usage: "moe-lab compare A.json B.json [--json] [--changed]", summary: this.summary, positionals: true });
    if (!args) return 0;
    if (args.positionals.length !== 2) throw new CliError(`expected two capture files (A.json B.json), got ${args.positionals.length}`);
    const [fileA, fileB] = args.positionals;
    const cmp = compareCaptures(readCapture(fileA), readCapture(fileB));
    if (getFlag(args, "json")) {
      const rows = getFlag(args, "changed") ? cmp.rows.filter((r) => r.changed) : cmp.rows;
      io.out(JSON.stringify({ ...cmp, rows }) + "\n");
    } else {
      io.out(formatComparison(cmp, getFlag(args, "changed")));
    }
    return 0;
  },
};
