/**
 * `server.ts verify`: a check of a root, like `restic check`. The structure is always checked:
 *
 * - every pack the index lists is an object of the size its row says, whose trailer and header
 *   decode and agree with every chunk the index places in it (offset, lengths, compression, id),
 *   and whose row's byte counts and owner match its chunks';
 * - every chunk's `refs` is the number of chunk lists naming it, and its pack has a row;
 * - every chunked version's list runs 0..count-1 over chunks of its user, adding up to its size;
 * - every data file (versions stored before schema 5) is there with its size;
 * - pack objects the index does not know are warnings (an upload still running writes them).
 *
 * Then data, as `data` says: `"versions"` (the default, what `verify` always did) reads every
 * version back, each chunk hashed against its id as it is read and the whole against the
 * version's SHA-256; `"all"` (`--read-data`) also reads every chunk of every pack, those no
 * version names included; `{ subsetPercent }` (`--read-data-subset N%`) reads every chunk of a
 * random N% of the packs, and N% of the versions not in packs; `"structure"` reads no data.
 *
 * Safe on a live root: it only reads, a page of rows per statement (no long read transaction
 * holding the server's log back; the check of `refs` is one statement over the chunk tables), and
 * what the running server removed meanwhile is told apart from what is missing by looking again.
 *
 * @module
 */
import { DatabaseSync } from "node:sqlite";
import type { ObjectStore } from "../../objects/object_store.ts";
import { PACKS_PREFIX } from "../../repository/pack_writer.ts";
import { toHex } from "../../common/hex.ts";
import { ChunkCatalog, DAMAGED_PACK_NO } from "./chunk_catalog.ts";
import { DataFiles } from "./data_files.ts";
import { INDEX_FILE_NAME } from "./options.ts";
import { openRepositoryForReading } from "./read_only_repository.ts";
import { checkPack, type PackFinding } from "./verify_packs.ts";
import { type PackRow, VerifyQueries, type VersionRow } from "./verify_queries.ts";
import type { VerifyData, VerifyProblem, VerifyReport, VerifyWarning } from "./verify_report.ts";
import { checkVersion } from "./verify_versions.ts";
export * from "./verify_report.ts";

/** Options of `verifyRoot`. */
export interface VerifyOptions {
  /** The backup root. */
  root: string;
  /** Only this user's versions, packs and chunks (unindexed packs, which name no user, are not looked for). */
  userId?: number;
  /** How much data to read (see the module comment). @default "versions" */
  data?: VerifyData;
  /** Picks the sample of `subsetPercent`: a number in [0, 1). @default Math.random */
  random?: () => number;
  /** Told after each version and pack, for a progress line. */
  onProgress?: (progress: { versions: number; bytes: number; packs: number }) => void;
}

const decoder = new TextDecoder();

/**
 * Checks the root (or one user's part of it); see the module comment.
 *
 * @example
 * ```ts ignore
 * const report = await verifyRoot({ root: "./backup-root", data: { subsetPercent: 10 } });
 * if (report.problems.length > 0) Deno.exit(1);
 * ```
 *
 * @throws {Error} if the root has no index.
 * @throws {RangeError} if `subsetPercent` is not in 0..100.
 */
export async function verifyRoot(options: VerifyOptions): Promise<VerifyReport> {
  const data = options.data ?? "versions";
  if (typeof data === "object" && !(data.subsetPercent >= 0 && data.subsetPercent <= 100)) {
    throw new RangeError(`subsetPercent must be from 0 to 100, got ${data.subsetPercent}`);
  }
  const indexPath = `${options.root}/${INDEX_FILE_NAME}`;
  if (!Deno.lstatSync(indexPath).isFile) throw new Error(`${indexPath} is not an index`);
  const store = await openRepositoryForReading(options.root);
  const db = new DatabaseSync(indexPath, { readOnly: true });
  const report: VerifyReport = {
    data,
    versions: 0,
    bytes: 0,
    packs: 0,
    packsRead: 0,
    chunksRead: 0,
    sealedChunks: 0,
    removedMeanwhile: 0,
    problems: [],
    warnings: [],
  };
  try {
    const run = new Run(options, report, new VerifyQueries(db, options.userId), store, db);
    run.checkBlobs();
    await run.checkPacks();
    if (options.userId === undefined) await run.findUnindexedPacks();
    await run.checkVersions(new DataFiles(options.root));
    return report;
  } finally {
    db.close();
  }
}

/** One run's state: what it reads with, and what it found. */
class Run {
  readonly #options: VerifyOptions;
  readonly #report: VerifyReport;
  readonly #queries: VerifyQueries;
  readonly #store: ObjectStore;
  /** The index's chunk tables (none before schema 5). */
  readonly #chunks: ChunkCatalog | undefined;
  readonly #random: () => number;
  readonly #share: number;

  constructor(
    options: VerifyOptions,
    report: VerifyReport,
    queries: VerifyQueries,
    store: ObjectStore,
    db: DatabaseSync,
  ) {
    this.#options = options;
    this.#report = report;
    this.#queries = queries;
    this.#store = store;
    this.#chunks = queries.chunked ? new ChunkCatalog(db) : undefined;
    this.#random = options.random ?? Math.random;
    const data = report.data;
    this.#share = data === "all" ? 1 : typeof data === "object" ? data.subsetPercent / 100 : 0;
  }

  #progress(): void {
    const { versions, bytes, packs } = this.#report;
    this.#options.onProgress?.({ versions, bytes, packs });
  }

  /** Chunks whose `refs` is off, or whose pack has no row. */
  checkBlobs(): void {
    for (const blob of this.#queries.badBlobs()) {
      const chunk = toHex(blob.id);
      // Pack number 0 is where DropBlobs (repair) puts a damaged blob until a backup sends it.
      const dropped = blob.packless && blob.pack_no === DAMAGED_PACK_NO;
      const problem: VerifyProblem = dropped
        ? {
          kind: "dropped-blob",
          detail: `chunk ${chunk} was dropped as damaged (repair): the next backup of a file ` +
            `holding it sends it again`,
          chunks: [chunk],
        }
        : blob.packless
        ? {
          kind: "packless-blob",
          detail: `chunk ${chunk} is indexed in pack number ${blob.pack_no}, which has no row`,
          chunks: [chunk],
        }
        : {
          kind: "blob-refs",
          detail: `chunk ${chunk} has refs ${blob.refs}, and ${blob.named} chunk lists name it`,
          chunks: [chunk],
        };
      if (blob.packless) problem.files = this.#filesNaming([blob.blob_no]);
      this.#report.problems.push(problem);
    }
  }

  /** Every pack's structure; the chunks of all of them, or of a sample, or none. */
  async checkPacks(): Promise<void> {
    const total = this.#queries.packCount();
    let toRead = Math.ceil(total * this.#share);
    let seen = 0;
    for (let after = 0;;) {
      const page = this.#queries.packs(after);
      if (page.length === 0) return;
      for (const pack of page) {
        // Exactly `toRead` of `total` packs, each as likely (packs added meanwhile are not read).
        const readData = toRead > 0 && this.#random() * Math.max(1, total - seen) < toRead;
        seen++;
        if (readData) toRead--;
        await this.#checkPack(pack, readData);
        this.#progress();
      }
      after = page.at(-1)!.pack_no;
    }
  }

  async #checkPack(pack: PackRow, readData: boolean): Promise<void> {
    const checked = await checkPack({
      store: this.#store,
      blobs: () => this.#queries.blobsIn(pack.pack_no),
      stillThere: () => this.#queries.packStillThere(pack),
      readData,
    }, pack);
    if (checked === "removed") {
      this.#report.removedMeanwhile++;
      return;
    }
    this.#report.packs++;
    if (readData) this.#report.packsRead++;
    this.#report.chunksRead += checked.chunksRead;
    this.#report.sealedChunks += checked.sealedRead;
    for (const finding of checked.findings) {
      this.#report.problems.push(this.#packProblem(pack, finding));
    }
  }

  #packProblem(pack: PackRow, finding: PackFinding): VerifyProblem {
    const problem: VerifyProblem = { kind: finding.kind, detail: finding.detail, pack: pack.name };
    if (finding.chunks.length > 0) problem.chunks = finding.chunks;
    if (finding.blobNos.length > 0) problem.files = this.#filesNaming(finding.blobNos);
    return problem;
  }

  /** The versions whose lists name any of these chunks. */
  #filesNaming(blobNos: number[]) {
    return this.#queries.versionsNaming(blobNos).map((row) => ({
      userId: row.user_id,
      name: decoder.decode(row.name),
      versionId: row.id,
      current: row.current === 1,
    }));
  }

  /** Pack objects without a row, looked at again at the end: an upload may have committed since. */
  async findUnindexedPacks(): Promise<void> {
    const unindexed: Array<{ name: string; size: number }> = [];
    for await (const object of this.#store.list(PACKS_PREFIX)) {
      if (!this.#queries.packIndexed(object.name)) unindexed.push(object);
    }
    for (const object of unindexed) {
      if (this.#queries.packIndexed(object.name)) continue;
      if ((await this.#store.stat(object.name)) === undefined) continue;
      const warning: VerifyWarning = {
        kind: "unindexed-pack",
        pack: object.name,
        detail: `a pack of ${object.size} bytes that the index does not know ` +
          "(an upload running, or one cut off: the next start removes it)",
      };
      this.#report.warnings.push(warning);
    }
  }

  /** Every version's list, and its bytes as `data` says. */
  async checkVersions(dataFiles: DataFiles): Promise<void> {
    const data = this.#report.data;
    const ctx = {
      store: this.#store,
      dataFiles,
      placements: (userId: number, versionId: number, fromSeq: number, limit: number) =>
        this.#chunks?.placements(userId, versionId, fromSeq, limit) ?? [],
      stillThere: (versionId: number) => this.#queries.versionStillThere(versionId),
    };
    for (let after = 0;;) {
      const page = this.#queries.versions(after);
      if (page.length === 0) return;
      for (const row of page) {
        const checked = await checkVersion(ctx, row, this.#reads(row, data));
        if (checked === "removed") this.#report.removedMeanwhile++;
        else {
          this.#report.versions++;
          this.#report.bytes += checked.bytes;
          this.#report.chunksRead += checked.chunksRead;
          if (checked.problem) this.#report.problems.push(checked.problem);
        }
        this.#progress();
      }
      after = page.at(-1)!.id;
    }
  }

  /** Whether a version's bytes are read: all, none, or (subset) a share of those not in packs. */
  #reads(row: VersionRow, data: VerifyData): boolean {
    if (data === "versions" || data === "all") return true;
    if (data === "structure" || row.chunk_count !== null) return false;
    return this.#random() < this.#share;
  }
}
