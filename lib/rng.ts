/**
 * Seeded random number generators. Every stochastic function of moe-lab takes one of these
 * explicitly; nothing uses `Math.random`.
 *
 * - `createRng(seed)`: seedrandom's ARC4 stream, for everything of ours.
 * - `createPythonRandom(seed)`: a CPython-compatible stream (`random.seed(int)`, `random()`,
 *   `randint(a, b)`, `getrandbits(k)`), bit for bit, so the lab note's Python draws replay exactly.
 *   The MT19937 core (reference `init_by_array` seeding) comes from random-js; only the
 *   CPython-specific parts (seed splitting, 53-bit floats, rejection sampling) are written here.
 */
import seedrandom from "seedrandom";
import { MersenneTwister19937 } from "random-js";
import { requireInteger, describeValue } from "./validate";

/** A seeded source of randomness. */
export interface Rng {
  /** A float in [0, 1). */
  random(): number;
  /** An integer in [a, b], both inclusive. */
  randint(a: number, b: number): number;
}

function checkRandintBounds(a: number, b: number): void {
  requireInteger("a", a);
  requireInteger("b", b, { min: a });
  if (b - a + 1 > 2 ** 32 - 1) throw new RangeError(`b - a + 1 must be < 2^32, got ${b - a + 1}`);
}

/**
 * A seedrandom (ARC4) stream: the default RNG of moe-lab.
 * @param seed any string or integer; equal seeds give equal streams.
 * @example createRng(1).random() // => 0.2694488477791326 (deterministic)
 */
export function createRng(seed: string | number): Rng {
  if (typeof seed !== "string" && !(typeof seed === "number" && Number.isFinite(seed))) {
    throw new TypeError(`seed must be a string or a finite number, got ${describeValue(seed)}`);
  }
  const prng = seedrandom(String(seed));
  const random = (): number => prng.double();
  return {
    random,
    randint(a: number, b: number): number {
      checkRandintBounds(a, b);
      return a + Math.floor(random() * (b - a + 1));
    },
  };
}

/** A CPython `random.Random` replay: the same draws as Python for the same integer seed. */
export interface PythonRandom extends Rng {
  /** CPython's `getrandbits(k)` for 1 <= k <= 32. */
  getrandbits(k: number): number;
  /** CPython's `randrange(n)` (`_randbelow`): an integer in [0, n). */
  randbelow(n: number): number;
}

/** Splits |seed| into little-endian 32-bit words, as CPython's `random.seed(int)` does. */
export function pythonSeedKey(seed: number | bigint): number[] {
  let n = typeof seed === "bigint" ? seed : BigInt(requireInteger("seed", seed));
  if (n < 0n) n = -n;
  const key: number[] = [];
  while (n > 0n) {
    key.push(Number(n & 0xffffffffn));
    n >>= 32n;
  }
  return key.length === 0 ? [0] : key;
}

/**
 * A CPython-compatible Mersenne Twister stream.
 * @param seed an integer, as passed to Python's `random.seed(seed)`.
 * @throws {RangeError} when `seed` is not an integer.
 * @example createPythonRandom(42).random() // => 0.6394267984578837 (Python: random.seed(42); random.random())
 */
export function createPythonRandom(seed: number | bigint): PythonRandom {
  const engine = MersenneTwister19937.seedWithArray(pythonSeedKey(seed));
  const u32 = (): number => engine.next() >>> 0;
  const getrandbits = (k: number): number => {
    requireInteger("k", k, { min: 1, max: 32 });
    return u32() >>> (32 - k);
  };
  const randbelow = (n: number): number => {
    requireInteger("n", n, { min: 1, max: 2 ** 32 - 1 });
    const k = 32 - Math.clz32(n); // n.bit_length()
    let r = getrandbits(k);
    while (r >= n) r = getrandbits(k);
    return r;
  };
  return {
    random(): number {
      const a = u32() >>> 5;
      const b = u32() >>> 6;
      return (a * 67108864 + b) / 9007199254740992;
    },
    randint(a: number, b: number): number {
      checkRandintBounds(a, b);
      return a + randbelow(b - a + 1);
    },
    getrandbits,
    randbelow,
  };
}
