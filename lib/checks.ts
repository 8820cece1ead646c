/**
 * Checks cells: assertions on the numbers a notebook's prose quotes.
 *
 * With the notebook's own parameters every check must hold (a failure stops the notebook).
 * When `moe-lab run --param` overrode parameters, the prose's numbers describe the defaults, so a
 * check that no longer holds is reported instead of stopping the run: `summary()` lists them.
 */
import * as nodeAssert from "node:assert/strict";
import { inspect } from "node:util";

/** The global the runner's injected-parameters cell sets (names of overridden parameters). */
export const OVERRIDES_GLOBAL = "moeLabOverrides";

/** An assert-like checker for a notebook's Checks cell. */
export interface Checks {
  ok(value: unknown, message?: string): void;
  equal(actual: unknown, expected: unknown, message?: string): void;
  deepEqual(actual: unknown, expected: unknown, message?: string): void;
  /**
   * Checks a predicate evaluated inside the check, so that a claim which cannot even be evaluated
   * under overridden parameters (an index past the end of a shorter sweep) is reported, not fatal.
   */
  that(message: string, predicate: () => unknown): void;
  /** "all checks passed", or which checks did not hold under overridden parameters. */
  summary(): string;
}

/** A value as one short line, for "got X, expected Y". */
function brief(v: unknown): string {
  const text = inspect(v, { breakLength: Infinity, depth: 2 });
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * One line for a check that did not hold: the claim (the check's message; node's own wording when
 * it has none) and, for equal/deepEqual, what it got and expected instead of node's multi-line diff.
 */
function describeMiss(e: unknown): string {
  if (e instanceof nodeAssert.AssertionError) {
    const claim = e.generatedMessage ? "" : e.message.split("\n")[0].trim();
    if (e.operator === "strictEqual" || e.operator === "deepStrictEqual") return `${claim || "values differ"} (got ${brief(e.actual)}, expected ${brief(e.expected)})`;
    return claim || "a check of a truthy value failed";
  }
  return String((e as Error)?.message ?? e).split("\n").map((l) => l.trim()).filter((l) => l !== "").join(" ");
}

/**
 * Creates the checker. Strict (throws) unless the runner injected parameter overrides.
 * @example createChecks().summary() // => "all checks passed"
 */
export function createChecks(): Checks {
  const overrides = (globalThis as Record<string, unknown>)[OVERRIDES_GLOBAL] as Record<string, unknown> | undefined;
  const soft = !!overrides && Object.keys(overrides).length > 0;
  let total = 0;
  const missed: string[] = [];
  const run = (f: () => void): void => {
    total++;
    if (!soft) return f();
    try {
      f();
    } catch (e) {
      // Numbered as the checks run, so that a reader can find the line in the Checks cell.
      const line = describeMiss(e);
      missed.push(`check ${total}: ${line.length > 200 ? `${line.slice(0, 197)}...` : line}`);
    }
  };
  return {
    ok: (value, message) => run(() => nodeAssert.ok(value, message)),
    equal: (a, b, message) => run(() => nodeAssert.equal(a, b, message)),
    deepEqual: (a, b, message) => run(() => nodeAssert.deepEqual(a, b, message)),
    that: (message, predicate) => {
      if (typeof message !== "string" || message === "") throw new TypeError(`message must be a non-empty string, got ${JSON.stringify(message)}`);
      if (typeof predicate !== "function") throw new TypeError(`predicate must be a function, got ${typeof predicate}`);
      run(() => {
        let value: unknown;
        try {
          value = predicate();
        } catch (e) {
          throw new Error(`${message} (could not be evaluated: ${(e as Error).message.split("\n")[0]})`);
        }
        nodeAssert.ok(value, message);
      });
    },
    summary(): string {
      if (missed.length === 0) return "all checks passed";
      return (
        `${total - missed.length} of ${total} checks hold; ${missed.length} describe the default parameters and do not hold ` +
        `with the overrides (${Object.keys(overrides ?? {}).join(", ")}):\n- ${missed.join("\n- ")}`
      );
    },
  };
}
