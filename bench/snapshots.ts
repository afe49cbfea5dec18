/**
 * Snapshots next to restic and borg (issue #22), side by side in the same run: a tree of small files
 * (first backup, unchanged second backup, restore) and a large random file (first backup, then 1 MiB
 * overwritten in its middle: time, bytes on the wire, bytes stored), through this project's client
 * CLI (snapshots, protocol v3) over plain TCP and over TLS, restic and borg (local repositories).
 * The same steps also run on an encrypted repository (issue #23, a key file, plain TCP), and the
 * price of a passphrase per command is measured apart (`bench/snapshots_encrypted.ts`).
 * Each step runs through every store in turn, so that all of them meet the same minutes of a shared
 * machine. Without restic or borg the table says so and leaves their cells empty.
 *
 * `deno task bench` runs it with everything else (`--only snapshots` alone); or
 * `deno run -P=harness bench/snapshots.ts [--files N] [--rounds N] [--file-rounds N] [--size MiB] [--dir DIR]`.
 *
 * @module
 */
import { overwriteMiddle, treeBytes, writeRandomFile } from "./corpus_tools.ts";
import type { Row } from "./report.ts";
import { borgStore, resticStore, versionOf } from "./repository_tools.ts";
import { type PassphraseFigures, passphraseOpen } from "./snapshots_encrypted.ts";
import { tableRows } from "./snapshots_table.ts";
import { tarCopy } from "./tree.ts";
import {
  OURS,
  OURS_ENCRYPTED,
  OURS_TLS,
  projectV3Store,
  type RunFigures,
  type SnapshotStore,
  writeSmallTree,
} from "./snapshots_tools.ts";

const MiB = 2 ** 20;

/** Where and how much. */
export interface SnapshotBenchOptions {
  /** Temporary files go in a new folder under it (default the system's), removed at the end. */
  dir?: string;
  /** Files of the tree (the 3,000). */
  files?: number;
  /** Rounds of the tree's steps, each with new stores; the table shows medians. @default 3 */
  rounds?: number;
  /** Bytes of the random file (the 512 MiB). */
  size: number;
  /** Rounds of the file's steps, each with new stores and new bytes; the table shows the median round. @default 3 */
  fileRounds?: number;
  log?: (text: string) => void;
}

/** A step's figures, with the store's bytes around it. */
export interface StepFigures extends RunFigures {
  storeBytesBefore?: number;
  storeBytesAfter?: number;
}

/** The tree's steps. */
export type TreeStep = "first" | "unchanged" | "restore";
/** The file's steps. */
export type FileStep = "first" | "changed";

/** What the comparison measured: per part, per store (null: not installed), per step. */
export interface SnapshotFigures {
  tree: { files: number; bytes: number };
  fileBytes: number;
  describe: Record<string, string>;
  missing: string[];
  /** Medians over `treeRounds` (time and CPU). */
  treeSteps: Record<string, Record<TreeStep, StepFigures> | null>;
  treeRounds: Array<Record<string, Record<TreeStep, StepFigures>>>;
  /** `tar c | tar x` of the tree in each round, just before the restores: the disk's floor. */
  tarMs: number[];
  /** Per store and step, the round of `fileRounds` whose time is the median (bytes and CPU its own). */
  fileSteps: Record<string, Record<FileStep, StepFigures> | null>;
  fileRounds: Array<Record<string, Record<FileStep, StepFigures>>>;
  /** `snapshots` opened by a passphrase and by a key file (undefined until measured). */
  passphrase?: PassphraseFigures;
}

/**
 * Writes back what earlier steps left dirty, then waits until the disk is idle (no task stalled
 * on I/O for 250 ms by `/proc/pressure/io`; 20 s at most), so that each step starts on a settled
 * disk: gigabytes written by one part slowed the next one's steps (docs/performance.md, "Latest").
 */
async function settle(): Promise<void> {
  await new Deno.Command("sync").output();
  const deadline = Date.now() + 20_000;
  let before = await ioStallMicros();
  while (before !== undefined && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const now = await ioStallMicros();
    if (now === before) return;
    before = now;
  }
}

/** Microseconds tasks have stalled on I/O since boot (`some total` of `/proc/pressure/io`). */
async function ioStallMicros(): Promise<number | undefined> {
  const output = await new Deno.Command("cat", { args: ["/proc/pressure/io"], stderr: "null" })
    .output().catch(() => undefined);
  const text = output?.success ? new TextDecoder().decode(output.stdout) : "";
  const total = /^some .*total=(\d+)/m.exec(text)?.[1];
  return total === undefined ? undefined : Number(total);
}

/** The stores in `base`, in the order each step visits them; notes for tools not installed. */
async function openStores(base: string, work: string, missing?: string[]) {
  await Deno.mkdir(base, { recursive: true });
  const stores: SnapshotStore[] = [];
  // The encrypted repository right after the plain one: their ratio meets the same minutes.
  stores.push(await projectV3Store(base, work));
  stores.push(await projectV3Store(base, work, { encrypted: true }));
  stores.push(await projectV3Store(base, work, { tls: true }));
  const restic = await versionOf("restic");
  if (restic) stores.push(await resticStore(base, work, restic, "repo"));
  else missing?.push("restic not installed: apt-get install restic");
  const borg = await versionOf("borg");
  if (borg) stores.push(await borgStore(base, work, borg, "repo"));
  else missing?.push("borg not installed: apt-get install borgbackup");
  return stores;
}

/** One step through every store in turn, each on a settled disk, the store's bytes around it. */
async function step<K extends string>(
  stores: SnapshotStore[],
  into: Record<string, Record<K, StepFigures> | null>,
  key: K,
  run: (store: SnapshotStore, index: number) => Promise<RunFigures>,
): Promise<void> {
  for (const [index, store] of stores.entries()) {
    const storeBytesBefore = await store.bytes();
    // Every tool's program in the page cache first: after gigabytes written by the bench's other
    // parts, our client started cold and slower (figures: docs/performance.md, "Latest").
    await store.warm();
    await settle();
    const result = await run(store, index);
    into[store.name] ??= {} as Record<K, StepFigures>;
    into[store.name]![key] = { ...result, storeBytesBefore, storeBytesAfter: await store.bytes() };
  }
}

/**
 * The step of the round whose time is the median of the rounds' (its bytes and CPU with it); of an
 * even number, the faster of the two in the middle.
 */
function medianRound(steps: StepFigures[]): StepFigures {
  const sorted = [...steps].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
};

/** Runs both parts; resolves the rows and the figures. */
export async function snapshotRows(
  options: SnapshotBenchOptions,
): Promise<{ rows: Row[]; figures: SnapshotFigures }> {
  const log = options.log ?? ((text: string) => console.error(`bench: ${text}`));
  const files = options.files ?? 3000;
  const rounds = options.rounds ?? 5;
  const fileRounds = options.fileRounds ?? 3;
  for (const [what, count] of [["rounds", rounds], ["file rounds", fileRounds]] as const) {
    // Said before the tree's minutes run, not by a table with nothing to show after them.
    if (!Number.isInteger(count) || count < 1) {
      throw new RangeError(`${what}: ${count}, not 1 or more`);
    }
  }
  const dir = await Deno.makeTempDir({ dir: options.dir, prefix: "snapshots-" });
  const work = `${dir}/work`;
  await Deno.mkdir(work);
  const figures: SnapshotFigures = {
    tree: { files, bytes: 0 },
    fileBytes: options.size,
    describe: {},
    missing: [],
    treeSteps: { [OURS]: null, [OURS_ENCRYPTED]: null, [OURS_TLS]: null, restic: null, borg: null },
    treeRounds: [],
    tarMs: [],
    fileSteps: { [OURS]: null, [OURS_ENCRYPTED]: null, [OURS_TLS]: null, restic: null, borg: null },
    fileRounds: [],
  };
  try {
    log(`snapshots: a tree of ${files} files of 1-32 KiB, ${rounds} rounds`);
    figures.tree.bytes = await writeSmallTree(`${work}/tree`, files);
    for (let round = 1; round <= rounds; round++) {
      const base = `${dir}/tree-${round}`;
      const stores = await openStores(base, work, round === 1 ? figures.missing : undefined);
      if (round === 1) { for (const note of figures.missing) log(note); }
      for (const store of stores) figures.describe[store.name] = store.describe;
      const into: Record<string, Record<TreeStep, StepFigures> | null> = {};
      try {
        log(`snapshots: tree, round ${round}: first backup, unchanged backup, tar, restore`);
        await step(stores, into, "first", (store) => store.backup(["tree"]));
        await step(stores, into, "unchanged", (store) => store.backup(["tree"]));
        // Nothing restored or copied is removed before the end: on ext4, creating a file costs
        // more for a while after many were deleted nearby (docs/performance.md), and tar and every
        // restore must meet the disk in the same state.
        await settle();
        figures.tarMs.push(await tarCopy(work, `tar-copy-${round}`));
        await step(stores, into, "restore", async (store, index) => {
          const target = `${base}/restored-${index}`;
          await Deno.mkdir(target);
          const result = await store.restore(target);
          // A restore that lost bytes measures nothing: say so rather than print its time.
          const restored = await treeBytes(target);
          if (restored !== figures.tree.bytes) {
            throw new Error(`${store.name} restored ${restored} bytes of ${figures.tree.bytes}`);
          }
          return result;
        });
      } finally {
        for (const store of stores) await store[Symbol.asyncDispose]();
      }
      figures.treeRounds.push(into as Record<string, Record<TreeStep, StepFigures>>);
    }
    for (const name of Object.keys(figures.treeRounds[0] ?? {})) {
      const steps = {} as Record<TreeStep, StepFigures>;
      for (const key of ["first", "unchanged", "restore"] as const) {
        const of = (pick: (step: StepFigures) => number | undefined) =>
          median(figures.treeRounds.map((round) => pick(round[name][key]) ?? NaN));
        steps[key] = {
          ms: of((step) => step.ms),
          clientCpuMs: of((step) => step.clientCpuMs),
          serverCpuMs: of((step) => step.serverCpuMs),
        };
      }
      figures.treeSteps[name] = steps;
    }
    await Deno.remove(`${work}/tree`, { recursive: true });

    log("snapshots: a passphrase's price per command (`snapshots`, passphrase against key file)");
    figures.passphrase = await passphraseOpen(`${dir}/passphrase`);

    for (let round = 1; round <= fileRounds; round++) {
      log(`snapshots: a ${options.size / MiB} MiB random file, round ${round}: first backup`);
      await writeRandomFile(`${work}/large.bin`, options.size);
      const stores = await openStores(`${dir}/large-${round}`, work);
      const into: Record<string, Record<FileStep, StepFigures> | null> = {};
      try {
        await step(stores, into, "first", (store) => store.backup(["large.bin"]));
        log(
          `snapshots: round ${round}: 1 MiB overwritten in its middle, backed up again (bytes on the wire counted)`,
        );
        await overwriteMiddle(`${work}/large.bin`, options.size);
        await step(
          stores,
          into,
          "changed",
          (store) => store.backup(["large.bin"], { counted: true }),
        );
      } finally {
        for (const store of stores) await store[Symbol.asyncDispose]();
      }
      // Gigabytes each round: gone before the next (a few large files, no inode churn).
      await Deno.remove(`${dir}/large-${round}`, { recursive: true });
      await Deno.remove(`${work}/large.bin`);
      figures.fileRounds.push(into as Record<string, Record<FileStep, StepFigures>>);
    }
    for (const name of Object.keys(figures.fileRounds[0] ?? {})) {
      const of = (key: FileStep) =>
        medianRound(figures.fileRounds.map((round) => round[name][key]));
      figures.fileSteps[name] = { first: of("first"), changed: of("changed") };
    }
    return { rows: tableRows(figures), figures };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { taskArgs } = await import("../cli/flags.ts");
  const { writeReport } = await import("./report.ts");
  const { values } = taskArgs(
    "snapshots",
    "deno run -P=harness bench/snapshots.ts [--files N] [--rounds N] [--file-rounds N] [--size MiB] [--dir DIR] [--out DIR]\n\nSnapshots through this project's client CLI (v3, plain and TLS), restic and borg side by side.\n  --files N   files of the tree (default 3000)\n  --rounds N  rounds of the tree's steps, medians shown (default 5)\n  --file-rounds N  rounds of the file's steps, the median round shown (default 3)\n  --size MiB  the random file (default 512)\n  --dir DIR   where temporary files go (default the system temp folder)\n  --out DIR   where the JSON goes (default bench/results/snapshots)",
    {
      files: { type: "string" },
      rounds: { type: "string" },
      "file-rounds": { type: "string" },
      size: { type: "string" },
      dir: { type: "string" },
      out: { type: "string" },
    },
  );
  const size = Number(values.size ?? 512) * MiB;
  const { rows, figures } = await snapshotRows({
    dir: values.dir,
    files: Number(values.files ?? 3000),
    rounds: Number(values.rounds ?? 5),
    fileRounds: Number(values["file-rounds"] ?? 3),
    size,
  });
  await writeReport({
    rows,
    figures: { snapshots: figures },
    size,
    seconds: 0,
    outDir: values.out ?? new URL("./results/snapshots", import.meta.url).pathname,
    chart: [],
  });
}
