/**
 * Input validation shared by every public function of moe-lab.
 *
 * Each check throws a `TypeError` (wrong kind of value) or a `RangeError` (right kind, wrong
 * range) whose message names the parameter, shows the value it got and says what is allowed:
 * `numExperts must be an integer >= 1, got 0`.
 */

/** Renders a value for an error message: short, unambiguous, never huge. */
export function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 60 ? value.slice(0, 57) + "..." : value);
  if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (value === null || value === undefined || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name} of length ${(value as unknown as ArrayLike<number>).length}`;
  if (typeof value === "function") return "a function";
  return "an object";
}

/** Bounds for numeric checks; both ends inclusive unless `minExclusive`/`maxExclusive` is set. */
export interface NumberBounds {
  min?: number;
  max?: number;
  minExclusive?: boolean;
  maxExclusive?: boolean;
}

function boundsText(b: NumberBounds): string {
  const parts: string[] = [];
  if (b.min !== undefined) parts.push(`${b.minExclusive ? ">" : ">="} ${b.min}`);
  if (b.max !== undefined) parts.push(`${b.maxExclusive ? "<" : "<="} ${b.max}`);
  return parts.join(" and ");
}

function inBounds(x: number, b: NumberBounds): boolean {
  if (b.min !== undefined && (b.minExclusive ? !(x > b.min) : !(x >= b.min))) return false;
  if (b.max !== undefined && (b.maxExclusive ? !(x < b.max) : !(x <= b.max))) return false;
  return true;
}

/**
 * Checks that `value` is a finite number within `bounds`.
 * @throws {TypeError} when it is not a number; {RangeError} when NaN, infinite or out of bounds.
 * @example requireNumber("hotFraction", 0.6, { min: 0, max: 1 }) // => 0.6
 */
export function requireNumber(name: string, value: unknown, bounds: NumberBounds = {}): number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be a number, got ${describeValue(value)}`);
  }
  const allowed = ["a finite number", boundsText(bounds)].filter(Boolean).join(" ");
  if (!Number.isFinite(value) || !inBounds(value, bounds)) {
    throw new RangeError(`${name} must be ${allowed}, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Checks that `value` is a safe integer within `bounds`.
 * @throws {TypeError} when it is not a number; {RangeError} when not an integer or out of bounds.
 * @example requireInteger("numExperts", 128, { min: 1 }) // => 128
 */
export function requireInteger(name: string, value: unknown, bounds: NumberBounds = {}): number {
  if (typeof value !== "number") {
    throw new TypeError(`${name} must be an integer, got ${describeValue(value)}`);
  }
  const allowed = ["an integer", boundsText(bounds)].filter(Boolean).join(" ");
  if (!Number.isSafeInteger(value) || !inBounds(value, bounds)) {
    throw new RangeError(`${name} must be ${allowed}, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Checks that `value` is one of `allowed`.
 * @throws {TypeError} when it is not a string; {RangeError} when not in the list.
 * @example requireOneOf("placement", "eplb", ["contiguous", "eplb"]) // => "eplb"
 */
export function requireOneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== "string") {
    throw new TypeError(`${name} must be one of ${allowed.join(", ")}, got ${describeValue(value)}`);
  }
  if (!(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`${name} must be one of ${allowed.join(", ")}, got ${describeValue(value)}`);
  }
  return value as T;
}

/**
 * Checks an optional flag: `undefined` reads as `fallback`, anything else must be a boolean.
 * @throws {TypeError} for a value that is neither undefined nor a boolean.
 * @example requireBoolean("overlapCommunication", undefined) // => false
 */
export function requireBoolean(name: string, value: unknown, fallback = false): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== "boolean") throw new TypeError(`${name} must be true or false, got ${describeValue(value)}`);
  return value;
}

/** A read-only numeric sequence: plain arrays and typed arrays both qualify. */
export type NumericArray = ArrayLike<number>;

/**
 * Checks that `value` is an array (or typed array) of finite numbers, each within `bounds`,
 * with at least `minLength` items.
 * @throws {TypeError} when it is not an array or an item is not a number; {RangeError} otherwise.
 * @example requireNumberArray("loads", [3, 1, 2], { min: 0 }) // => [3, 1, 2]
 */
export function requireNumberArray(
  name: string,
  value: unknown,
  bounds: NumberBounds = {},
  minLength = 1,
): NumericArray {
  if (!Array.isArray(value) && !(ArrayBuffer.isView(value) && !(value instanceof DataView))) {
    throw new TypeError(`${name} must be an array of numbers, got ${describeValue(value)}`);
  }
  const arr = value as unknown as ArrayLike<unknown>;
  if (arr.length < minLength) {
    throw new RangeError(`${name} must have at least ${minLength} item(s), got ${arr.length}`);
  }
  for (let i = 0; i < arr.length; i++) {
    const x = arr[i];
    if (typeof x !== "number") {
      throw new TypeError(`${name}[${i}] must be a number, got ${describeValue(x)}`);
    }
    if (!Number.isFinite(x) || !inBounds(x, bounds)) {
      const allowed = ["a finite number", boundsText(bounds)].filter(Boolean).join(" ");
      throw new RangeError(`${name}[${i}] must be ${allowed}, got ${describeValue(x)}`);
    }
  }
  return arr as NumericArray;
}

/**
 * Checks that `value` is a rectangular matrix (array of equal-length numeric rows),
 * each item within `bounds`. Returns the shape.
 * @throws {TypeError} when not an array of arrays; {RangeError} for ragged rows or bad items.
 * @example requireMatrix("weight", [[1, 2], [3, 4]], { min: 0 }) // => { rows: 2, cols: 2 }
 */
export function requireMatrix(
  name: string,
  value: unknown,
  bounds: NumberBounds = {},
): { rows: number; cols: number } {
  if (!Array.isArray(value)) {
    throw new TypeError(`${name} must be an array of rows [rows][cols], got ${describeValue(value)}`);
  }
  if (value.length === 0) throw new RangeError(`${name} must have at least 1 row, got 0`);
  let cols = -1;
  for (let r = 0; r < value.length; r++) {
    const row = requireNumberArray(`${name}[${r}]`, value[r], bounds);
    if (cols === -1) cols = row.length;
    else if (row.length !== cols) {
      throw new RangeError(`${name} must be rectangular: row 0 has ${cols} items but row ${r} has ${row.length}`);
    }
  }
  return { rows: value.length, cols };
}

/**
 * Checks that `value` is a function (for injected dependencies such as an RNG).
 * @throws {TypeError} when it is not.
 */
export function requireFunction(name: string, value: unknown): (...args: never[]) => unknown {
  if (typeof value !== "function") {
    throw new TypeError(`${name} must be a function, got ${describeValue(value)}`);
  }
  return value as (...args: never[]) => unknown;
}
