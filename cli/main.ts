/**
 * `moe-lab` command-line entry point: dispatches to the commands in `cli/commands.ts`.
 * Every error a user can cause prints one line (`moe-lab: ...`) and exits non-zero.
 */
import { CliError, CommandIO } from "./args";
import { COMMANDS } from "./commands";

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length)) + 2;
  const lines = ["usage: moe-lab <command> [options]   (moe-lab <command> --help for its options)", "", "commands:"];
  for (const [name, cmd] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(width)}${cmd.summary}`);
  return lines.join("\n");
}

/** Runs one command line; returns the exit code. Exported for tests. */
export async function main(argv: string[], io: CommandIO): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.out(usage() + "\n");
    return name === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) {
    io.err(`moe-lab: unknown command ${JSON.stringify(name)} (commands: ${Object.keys(COMMANDS).join(", ")})\n`);
    return 2;
  }
  try {
    return await cmd.run(rest, io);
  } catch (e) {
    if (e instanceof CliError || e instanceof RangeError || e instanceof TypeError) {
      io.err(`moe-lab ${name}: ${e.message}\n`);
      return 2;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === "string" && typeof err.message === "string") {
      io.err(`moe-lab ${name}: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}

/** Runs `process.argv` and sets the process exit code. Called by `bin/moe-lab.js`. */
export function runFromProcess(): void {
  const io: CommandIO = {
    out: (t) => void process.stdout.write(t),
    err: (t) => void process.stderr.write(t),
  };
  main(process.argv.slice(2), io).then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.stderr.write(`moe-lab: internal error: ${(e as Error)?.stack ?? e}\n`);
      process.exitCode = 70;
    },
  );
}
