/**
 * The repository comparison: the same backups through this project (client CLI against a server
 * process), restic and borg (local repositories) in the same run, side by side: a large file of
 * random bytes, the same with 1 MiB overwritten in its middle, the same bytes under a second name,
 * and a compressible corpus of text and JSON. Times, and the bytes each store grew by.
 *
 * `deno task bench` runs it with everything else; alone:
 * `deno run -P=harness bench/repository.ts [--size MiB] [--corpus MiB] [--checkout DIR] [--dir DIR]`.
 * restic and borg come from `apt-get install restic borgbackup`; without them their cells stay empty.
 *
 * @module
 */
import type { Bar } from "./chart.ts";
import { overwriteMiddle, writeCorpus, writeRandomFile } from "./corpus_tools.ts";
import { type Row, writeReport } from "./report.ts";
import {
  type BackupResult,
  borgStore,
  projectStore,
  resticStore,
  type Store,
  versionOf,
} from "./repository_tools.ts";

const MiB = 2 ** 20;

/** What one store measured, per workload. */
export interface StoreFigures {
  describe: string;
  /** The large file's first backup; the store's bytes after it. */
  first: StepFigures;
  /** The same file with 1 MiB overwritten in its middle. */
  changed: StepFigures;
  /** The same bytes under a second name. */
  secondName: StepFigures;
  /** The text and JSON corpus, first backup. */
  corpus: StepFigures;
}

/** One backup run: its time, and the bytes the store held before and after. */
export interface StepFigures extends BackupResult {
  storeBytesBefore: number;
  storeBytesAfter: number;
  grewBytes: number;
}

/** The figures of the comparison, as the JSON holds them. */
export interface RepositoryFigures {
  fileBytes: number;
  corpus: { bytes: number; files: number; zstdPerFileBytes: number };
  checkout: string;
  /** Tools that are not installed have none. */
  stores: Record<string, StoreFigures | null>;
}

/** Where and how much. */
export interface RepositoryOptions {
  /** Temporary files go in a new folder under it (default the system's), removed at the end. */
  dir?: string;
  /** Bytes of the random file. */
  size: number;
  /** Bytes of the corpus (at least). */
  corpusSize: number;
  /** The checkout whose server and client are measured (this one, or a `git worktree`). */
  checkout: string;
  log?: (text: string) => void;
}

/** Writes back what earlier steps left dirty, so that each backup starts on a settled disk. */
async function settle(): Promise<void> {
  await new Deno.Command("sync").output();
}

/** Runs the four workloads through every installed store; resolves rows, figures and bars. */
export async function repositoryRows(
  options: RepositoryOptions,
): Promise<{ rows: Row[]; figures: RepositoryFigures; chart: Bar[] }> {
  const { size, checkout } = options;
  const log = options.log ?? ((text: string) => console.error(`bench: ${text}`));
  const work = await Deno.makeTempDir({ dir: options.dir, prefix: "repository-" });
  const files = `${work}/files`;
  await Deno.mkdir(files);
  const rows: Row[] = [];
  const stores: Store[] = [];
  const missing: string[] = [];
  try {
    stores.push(await projectStore(work, files, checkout));
    const restic = await versionOf("restic");
    if (restic) stores.push(await resticStore(work, files, restic));
    else missing.push("restic not installed: apt-get install restic");
    const borg = await versionOf("borg");
    if (borg) stores.push(await borgStore(work, files, borg));
    else missing.push("borg not installed: apt-get install borgbackup");
    for (const note of missing) log(note);

    const results = new Map<Store, Partial<StoreFigures>>(stores.map((s) => [s, {}]));
    // Each workload through every store in turn, so that they all run in the same minutes.
    const step = async (key: Exclude<keyof StoreFigures, "describe">, paths: string[]) => {
      for (const store of stores) {
        const storeBytesBefore = await store.bytes();
        await settle();
        const result = await store.backup(paths);
        const storeBytesAfter = await store.bytes();
        results.get(store)![key] = {
          ...result,
          storeBytesBefore,
          storeBytesAfter,
          grewBytes: storeBytesAfter - storeBytesBefore,
        };
      }
    };
    log(`repository comparison: ${size / MiB} MiB random file (${stores.map((s) => s.name)})`);
    await writeRandomFile(`${files}/large.bin`, size);
    await step("first", ["large.bin"]);
    log("repository comparison: 1 MiB overwritten in the middle");
    await overwriteMiddle(`${files}/large.bin`, size);
    await step("changed", ["large.bin"]);
    log("repository comparison: the same bytes under a second name");
    await Deno.copyFile(`${files}/large.bin`, `${files}/large-copy.bin`);
    await step("secondName", ["large-copy.bin"]);
    log(`repository comparison: a text and JSON corpus (${options.corpusSize / MiB} MiB)`);
    const corpus = await writeCorpus(`${files}/corpus`, options.corpusSize);
    await step("corpus", ["corpus"]);

    const figures: RepositoryFigures = {
      fileBytes: size,
      corpus: {
        bytes: corpus.bytes,
        files: corpus.files.length,
        zstdPerFileBytes: corpus.zstdBytes,
      },
      checkout,
      stores: {},
    };
    for (const name of ["this project", "restic", "borg"]) {
      const store = stores.find((store) => store.name === name);
      figures.stores[name] = store
        ? { describe: store.describe, ...results.get(store) } as StoreFigures
        : null;
    }
    rows.push(...tableRows(figures, stores.map((s) => s.name), missing));
    const chart: Bar[] = stores.map((store) => ({
      label: `first backup, ${store.name}`,
      value: size / MiB / (figures.stores[store.name]!.first.ms / 1000),
      kind: store.name === "this project" ? "server" : "limit",
    }));
    return { rows, figures, chart };
  } finally {
    for (const store of stores) await store[Symbol.asyncDispose]();
    await Deno.remove(work, { recursive: true });
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const bytes = (count: number) =>
  Math.abs(count) < MiB ? `${(count / 1024).toFixed(1)} KiB` : `${(count / MiB).toFixed(1)} MiB`;
const times = (value: number) =>
  Number.isFinite(value) ? `${value.toFixed(value < 100 ? 1 : 0)}×` : "n/a";

/** The table: this project's figure as the value, restic's and borg's as the limit, and the ratios. */
function tableRows(figures: RepositoryFigures, names: string[], missing: string[]): Row[] {
  const ours = figures.stores["this project"]!;
  const others = names.filter((name) => name !== "this project")
    .map((name) => ({ name, figures: figures.stores[name]! }));
  /** One measure: value ours, limit the others', ratio `ours / theirs` (or theirs / ours). */
  const row = (
    what: string,
    pick: (store: StoreFigures) => number,
    format: (value: number) => string,
    ratioText: (ours: number, theirs: number, name: string) => string,
  ): Row => ({
    what,
    value: format(pick(ours)),
    limit: others.map((other) => `${other.name} ${format(pick(other.figures))}`).join("; ") ||
      undefined,
    ratio: others.map((other) => ratioText(pick(ours), pick(other.figures), other.name))
      .join(", ") || undefined,
  });
  // Times as speed (theirs / ours: above 1, faster); sizes as ours / theirs (above 1, bigger).
  const speed = (ours: number, theirs: number, name: string) =>
    `${times(theirs / ours)} ${name}'s speed`;
  const size = (ours: number, theirs: number, name: string) => `${times(ours / theirs)} ${name}'s`;
  const share = (store: StoreFigures) => store.corpus.grewBytes / figures.corpus.bytes;
  const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
  const file = `${figures.fileBytes / MiB} MiB`;
  return [
    { what: "repository comparison: this project, restic and borg side by side", value: "" },
    ...others.map((other) => ({ what: `  ${other.figures.describe}`, value: "" })),
    ...missing.map((note) => ({ what: `  ${note}`, value: "" })),
    row(
      `  first backup of a ${file} random file (client CLI, v2), time (#21: 2× restic's speed)`,
      (s) => s.first.ms,
      seconds,
      speed,
    ),
    row("    store after it", (s) => s.first.storeBytesAfter, bytes, size),
    row(
      "  1 MiB overwritten in its middle, backed up again: time",
      (s) => s.changed.ms,
      seconds,
      speed,
    ),
    row("    store grew by (#21: at most 8 MiB)", (s) => s.changed.grewBytes, bytes, size),
    {
      what: "    bytes sent (this project: payload in the server's request log)",
      value: bytes(ours.changed.sentBytes ?? NaN),
    },
    row("  the same bytes under a second name: time", (s) => s.secondName.ms, seconds, speed),
    row("    store grew by (#21: at most 1 MiB)", (s) => s.secondName.grewBytes, bytes, size),
    row(
      `  a text and JSON corpus (${
        (figures.corpus.bytes / MiB).toFixed(0)
      } MiB, ${figures.corpus.files} files), first backup: time`,
      (s) => s.corpus.ms,
      seconds,
      speed,
    ),
    {
      ...row("    store grew by, of the corpus's size (#21: at most 40%)", share, percent, size),
      limit: [
        ...others.map((other) => `${other.name} ${percent(share(other.figures))}`),
        `zstd -3 per file ${percent(figures.corpus.zstdPerFileBytes / figures.corpus.bytes)}`,
      ].join("; "),
    },
  ];
}

if (import.meta.main) {
  const { taskArgs } = await import("../cli/flags.ts");
  const { values } = taskArgs(
    "repository",
    "deno run -P=harness bench/repository.ts [--size MiB] [--corpus MiB] [--checkout DIR] [--dir DIR] [--out DIR]\n\nThe same backups through this project, restic and borg (when installed), side by side.\n  --size MiB      the random file (default 512)\n  --corpus MiB    the text and JSON corpus (default 128)\n  --checkout DIR  whose server.ts and client.ts to measure (default this checkout; e.g. a git worktree)\n  --dir DIR       where temporary files go (default the system temp folder)\n  --out DIR       where the JSON and SVG go (default bench/results/repository)",
    {
      size: { type: "string" },
      corpus: { type: "string" },
      checkout: { type: "string" },
      dir: { type: "string" },
      out: { type: "string" },
    },
  );
  const size = Number(values.size ?? 512) * MiB;
  const { rows, figures, chart } = await repositoryRows({
    dir: values.dir,
    size,
    corpusSize: Number(values.corpus ?? 128) * MiB,
    checkout: values.checkout ?? new URL("..", import.meta.url).pathname.replace(/\/$/, ""),
  });
  await writeReport({
    rows,
    figures: { repository: figures },
    size,
    seconds: 0,
    outDir: values.out ?? new URL("./results/repository", import.meta.url).pathname,
    chart,
  });
}
