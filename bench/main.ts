/**
 * `npm run bench`: runs every benchmark section and prints its figures.
 * Add a section by exporting a `BenchSection` from a file in bench/ and listing it here.
 */
import type { BenchSection } from "./harness";
import { labnoteBench } from "./labnote";
import { routingBench } from "./routing";
import { eplbBench } from "./eplb";

const SECTIONS: BenchSection[] = [labnoteBench, eplbBench, routingBench];

async function main(): Promise<void> {
  const only = process.argv.slice(2);
  console.log(`moe-lab benchmarks (node ${process.version}, ${process.platform}/${process.arch})`);
  for (const s of SECTIONS) {
    if (only.length && !only.some((o) => s.title.toLowerCase().includes(o.toLowerCase()))) continue;
    console.log(`\n== ${s.title} ==`);
    await s.run();
  }
}

main().catch((e) => {
  console.error(`bench: ${(e as Error).stack ?? e}`);
  process.exitCode = 1;
});
