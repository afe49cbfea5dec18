/**
 * The benchmark's output: the table on stdout, the figures as JSON and a chart as SVG in the
 * results folder.
 *
 * @module
 */
import { barChart } from "./chart.ts";

/** A throughput as the table shows it. */
export const mib = (value: number): string => `${value.toFixed(0)} MiB/s`;
/** A rate as the table shows it. */
export const perSecond = (value: number): string => `${value.toFixed(0)}/s`;
/** A share of a limit as the table shows it. */
export const ratio = (value: number, limit: number): string =>
  `${((value / limit) * 100).toFixed(0)}%`;

/** One line of the table: a measure, and the limit it is compared with. */
export interface Row {
  what: string;
  value: string;
  limit?: string;
  ratio?: string;
}

/** What `writeReport` writes. */
export interface Report {
  rows: Row[];
  figures: Record<string, unknown>;
  /** Bytes of the large transfers. */
  size: number;
  seconds: number;
  outDir: string;
  chart: Parameters<typeof barChart>[2];
}

/** Prints the table and writes the JSON and the SVG. */
export async function writeReport(report: Report): Promise<void> {
  const { rows, figures, size, seconds, outDir } = report;
  const MiB = 2 ** 20;
  const width = Math.max(...rows.map((row) => row.what.length));
  const table = [
    `| ${"measure".padEnd(width)} | value | limit | ratio |`,
    `|${"-".repeat(width + 2)}|-------|-------|-------|`,
    ...rows.map((row) =>
      `| ${row.what.padEnd(width)} | ${row.value} | ${row.limit ?? ""} | ${row.ratio ?? ""} |`
    ),
  ].join("\n");
  console.log(table);

  const machine = {
    os: `${Deno.build.os} ${Deno.build.arch}`,
    deno: Deno.version.deno,
    cpus: navigator.hardwareConcurrency,
  };
  const stamp = new Date().toISOString();
  await Deno.mkdir(outDir, { recursive: true });
  const jsonPath = `${outDir}/bench-${stamp.replace(/[:.]/g, "-")}.json`;
  await Deno.writeTextFile(
    jsonPath,
    JSON.stringify({ time: stamp, machine, sizeBytes: size, seconds, figures }, null, 2) + "\n",
  );
  const svg = barChart(
    `Throughput, ${size / MiB} MiB transfers (${stamp.slice(0, 10)})`,
    "MiB/s",
    report.chart,
  );
  await Deno.writeTextFile(`${outDir}/throughput.svg`, svg);
  console.error(`bench: wrote ${jsonPath} and ${outDir}/throughput.svg`);
}
