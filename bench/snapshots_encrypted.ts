/**
 * The encrypted rows of the snapshot comparison (`bench/snapshots.ts`, issue #23): the tree and the
 * large file through an encrypted repository opened with a key file, as ratios to the plain one of
 * the same run, and the fixed price a passphrase adds to every command (scrypt at the default
 * cost), measured apart on a tiny repository that both a passphrase and a key file open.
 *
 * @module
 */
import { startServerProcess } from "../harness/server_process.ts";
import type { Row } from "./report.ts";
import { run, timed } from "./repository_tools.ts";
import { CLIENT_RUN_ARGS } from "./processes.ts";
import type { SnapshotFigures, StepFigures, TreeStep } from "./snapshots.ts";
import { mostOfRounds, OURS, OURS_ENCRYPTED, wireBytes } from "./snapshots_tools.ts";

const MiB = 2 ** 20;
/** Issue #23: an encrypted backup of the tree within this factor of the plain one's time. */
export const TREE_TIME_TARGET = 1.3;
/** Issue #23: what a 1 MiB change to the large file may re-store, encrypted. */
export const CHANGED_BYTES_TARGET = 8 * MiB;

/** `snapshots` on one repository, opened by a passphrase and by a key file, interleaved. */
export interface PassphraseFigures {
  /** Wall times of `snapshots --password-file` (scrypt at the client's default cost). */
  passphraseMs: number[];
  /** Wall times of `snapshots --repository-key-file` on the same repository. */
  keyFileMs: number[];
}

const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).toSorted((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor((sorted.length - 1) / 2)];
};

/**
 * Measures what a passphrase costs per command: a server on a fresh root in `dir`, `init` with a
 * passphrase at the default KDF cost, `key add` of a key file, one tiny snapshot, then `rounds`
 * pairs of `snapshots` with each secret in turn. Their difference is the time to open the slot.
 *
 * @throws if a client command fails.
 */
export async function passphraseOpen(dir: string, rounds = 5): Promise<PassphraseFigures> {
  const root = `${dir}/root`;
  const home = `${dir}/home`;
  const src = `${dir}/src`;
  await Deno.mkdir(root, { recursive: true });
  await Deno.mkdir(home);
  await Deno.mkdir(src);
  await Deno.writeTextFile(`${src}/note.txt`, "a tiny repository\n");
  await Deno.writeTextFile(`${dir}/passphrase`, "a bench passphrase\n");
  const passphrase = `--password-file=${dir}/passphrase`;
  const keyFile = `--repository-key-file=${dir}/repo.key`;
  const env = { HOME: home, XDG_CONFIG_HOME: `${home}/.config` };
  const server = await startServerProcess(root, ["--quiet"]);
  try {
    const client = (...args: string[]) =>
      run(
        Deno.execPath(),
        [...CLIENT_RUN_ARGS, `--server=127.0.0.1:${server.port}`, "--user=1", "--quiet", ...args],
        { cwd: dir, env },
      );
    await run(Deno.execPath(), [...CLIENT_RUN_ARGS, "keygen"], { env });
    await client("init", passphrase);
    await client("key", "add", passphrase, `--new-${keyFile.slice(2)}`);
    await client("backup", "src", keyFile);
    const figures: PassphraseFigures = { passphraseMs: [], keyFileMs: [] };
    for (let round = 0; round < rounds; round++) {
      figures.passphraseMs.push((await timed(() => client("snapshots", passphrase))).ms);
      figures.keyFileMs.push((await timed(() => client("snapshots", keyFile))).ms);
    }
    return figures;
  } finally {
    await server.stop();
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const size = (count: number) =>
  Math.abs(count) < MiB ? `${(count / 1024).toFixed(1)} KiB` : `${(count / MiB).toFixed(1)} MiB`;
const times = (value: number) => Number.isFinite(value) ? `${value.toFixed(2)}×` : "n/a";
const met = (ok: boolean) => ok ? "met" : "NOT met";

/** The encrypted rows: each against the plain repository of the same run and issue #23's target. */
export function encryptedRows(figures: SnapshotFigures): Row[] {
  const plainTree = figures.treeSteps[OURS];
  const tree = figures.treeSteps[OURS_ENCRYPTED];
  const plainFile = figures.fileSteps[OURS];
  const file = figures.fileSteps[OURS_ENCRYPTED];
  if (!plainTree || !tree || !plainFile || !file) return [];
  /** A time of the encrypted repository next to the plain one's, with the target if any. */
  const timeRow = (what: string, mine: number, plain: number, target?: number): Row => ({
    what,
    value: seconds(mine),
    limit: `plain ${seconds(plain)}${target ? `; at most ${times(target)}` : ""}`,
    ratio: `${times(mine / plain)} plain's time${target ? `, ${met(mine / plain <= target)}` : ""}`,
  });
  /**
   * A tree step: the median of each round's ratio (encrypted right after plain in every round,
   * so each pair meets the same minutes of a shared machine), each round's beside it.
   */
  const treeRow = (what: string, key: TreeStep, target?: number): Row => {
    const ratios = figures.treeRounds.map((round) =>
      round[OURS_ENCRYPTED][key].ms / round[OURS][key].ms
    );
    const paired = median(ratios);
    return {
      what,
      value: seconds(tree[key].ms),
      limit: `plain ${seconds(plainTree[key].ms)}${target ? `; at most ${times(target)}` : ""}`,
      ratio: `${times(paired)} plain's time (rounds: ${ratios.map(times).join(" ")})` +
        (target ? `, ${met(paired <= target)}` : ""),
    };
  };
  const cpu = (step: StepFigures) =>
    `client ${seconds(step.clientCpuMs ?? NaN)}, server ${seconds(step.serverCpuMs ?? NaN)}`;
  const treeRows = (
    [
      ["first", "first backup", TREE_TIME_TARGET],
      ["unchanged", "unchanged, second backup", TREE_TIME_TARGET],
      // #23 sets its target on backups; a restore is shown beside the plain one, without one.
      ["restore", "restore into an empty folder", undefined],
    ] as const satisfies ReadonlyArray<readonly [TreeStep, string, number | undefined]>
  ).flatMap(([key, what, target]) => [
    treeRow(`    ${what}`, key, target),
    {
      what: "      CPU during it, encrypted / plain",
      value: `${cpu(tree[key])} / ${cpu(plainTree[key])}`,
    },
  ]);
  const changed = file.changed;
  const grew = (step: StepFigures) => step.storeBytesAfter! - step.storeBytesBefore!;
  const rounds = figures.fileRounds.length;
  /** A row of the 1 MiB change held to #23's bound: the most of the rounds (see the plain row's). */
  const boundRow = (what: string, of: (step: StepFigures) => number): Row => {
    const most = mostOfRounds(figures, OURS_ENCRYPTED, of);
    return {
      what: `      ${what}, the most of ${rounds} rounds (#23: at most ${
        size(CHANGED_BYTES_TARGET)
      })`,
      value: size(most),
      limit: `${size(CHANGED_BYTES_TARGET)}; plain ${size(mostOfRounds(figures, OURS, of))}`,
      ratio: `${((most / CHANGED_BYTES_TARGET) * 100).toFixed(0)}%, ` +
        met(most <= CHANGED_BYTES_TARGET),
    };
  };
  const open = figures.passphrase;
  const openMs = open ? median(open.passphraseMs) - median(open.keyFileMs) : NaN;
  return [
    {
      what: `  encrypted, a key file, plain TCP (#23: the tree's backups at most ` +
        `${times(TREE_TIME_TARGET)} plain's time):`,
      value: "",
    },
    ...treeRows,
    timeRow(
      `    a ${figures.fileBytes / MiB} MiB random file, first backup`,
      file.first.ms,
      plainFile.first.ms,
    ),
    timeRow(
      "    1 MiB overwritten in its middle, backed up again",
      changed.ms,
      plainFile.changed.ms,
    ),
    boundRow("bytes on the wire, both ways", wireBytes),
    boundRow("store grew by", grew),
    {
      what: "    a passphrase instead adds to every command (scrypt, default cost; " +
        `\`snapshots\`, median of ${open?.passphraseMs.length ?? 0})`,
      value: seconds(openMs),
      limit: open
        ? `passphrase ${seconds(median(open.passphraseMs))}; key file ${
          seconds(median(open.keyFileMs))
        }`
        : undefined,
    },
  ];
}
