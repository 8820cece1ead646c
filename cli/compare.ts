/**
 * `moe-lab compare A.json B.json`: two capture records side by side, field by field, with what
 * changed and by how much (numbers: difference and relative change).
 */
import { Command, CliError, getFlag, OptionSpecs, readUserFile, startCommand } from "./args";
import { CaptureRecord, compareCaptures, formatComparison, parseCapture } from "../lib/capture";

const SPECS: OptionSpecs = {
  json: { kind: "boolean", help: "print the comparison as one JSON object" },
  changed: { kind: "boolean", help: "show only the fields that differ" },
  help: { kind: "boolean", help: "show this help" },
};

/**
 * Reads a capture file named on the command line. Every problem with it (missing, a directory,
 * not JSON, not a capture) is one line naming the path as typed, exit 2.
 * @throws {CliError} for a missing, unreadable or malformed file; {TypeError}/{RangeError} from
 *   `validateCapture` (naming the file and the field) for a record that is not a capture.
 */
function readCaptureArg(file: string): CaptureRecord {
  const text = readUserFile(file, "a capture file (JSON)");
  try {
    return parseCapture(text, file);
  } catch (e) {
    if (e instanceof SyntaxError) throw new CliError(e.message);
    throw e;
  }
}

export const compareCommand: Command = {
  summary: "compare two capture records (from --capture or a notebook) field by field",
  run(argv, io) {
    const args = startCommand(argv, SPECS, io, { usage: "moe-lab compare A.json B.json [--json] [--changed]", summary: this.summary, positionals: true });
    if (!args) return 0;
    if (args.positionals.length !== 2) throw new CliError(`expected two capture files (A.json B.json), got ${args.positionals.length}`);
    const [fileA, fileB] = args.positionals;
    const cmp = compareCaptures(readCaptureArg(fileA), readCaptureArg(fileB));
    if (getFlag(args, "json")) {
      const rows = getFlag(args, "changed") ? cmp.rows.filter((r) => r.changed) : cmp.rows;
      io.out(JSON.stringify({ ...cmp, rows }) + "\n");
    } else {
      io.out(formatComparison(cmp, getFlag(args, "changed")));
    }
    return 0;
  },
};
