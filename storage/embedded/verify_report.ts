/**
 * What `verify` finds: problems (the root does not hold what its index says; exit 1) and warnings
 * (worth a look, not a loss). Plain data, printed as lines or JSON by `cli/server_verify.ts`.
 *
 * @module
 */

/** One version of a file, as a report names it. */
export interface VersionRef {
  /** Whose file. */
  userId: number;
  /** Its name. */
  name: string;
  /** Which version of it. */
  versionId: number;
  /** Whether it is the file's current version. */
  current: boolean;
}

/**
 * What is wrong. A version's bytes: `mismatch` (other bytes than its SHA-256), `missing` (its data
 * file is gone), `missing-digest`, `unreadable` (a data file of another size, a link), `bad-chunk`
 * (a chunk whose bytes do not decode, do not hash to its id, or run past its pack's end),
 * `missing-chunk` (a chunk's pack is gone), `chunk-list` (its list of chunks is not 0..count-1,
 * names a chunk the index lacks, or adds up to another size). The repository: `missing-pack`, `pack-size` (the object has
 * another size than its row), `pack-header` (its trailer or header does not decode, or disagrees
 * with the index about a chunk), `pack-bookkeeping` (a pack row's byte counts or owner do not
 * match its chunks), `blob-refs` (a chunk's reference count is not the number of lists naming
 * it), `packless-blob` (a chunk indexed in a pack that has no row), `dropped-blob` (a chunk
 * `repair` dropped as damaged, not yet sent again by a backup).
 */
export type ProblemKind =
  | "mismatch"
  | "missing"
  | "missing-digest"
  | "unreadable"
  | "bad-chunk"
  | "missing-chunk"
  | "chunk-list"
  | "missing-pack"
  | "pack-size"
  | "pack-header"
  | "pack-bookkeeping"
  | "blob-refs"
  | "packless-blob"
  | "dropped-blob";

/**
 * One problem. A version's problems carry the version (`userId`, `name`, `versionId`,
 * `current`); a pack's carry the pack and, when chunks of it are bad or lost, the files whose
 * versions name them (`files`).
 */
export interface VerifyProblem extends Partial<VersionRef> {
  /** What is wrong. */
  kind: ProblemKind;
  /** What was found, for people. */
  detail: string;
  /** The pack's object name (`packs/<2 hex>/<32 hex>`), for a pack's problems. */
  pack?: string;
  /** Ids (hex) of the chunks found bad or lost. */
  chunks?: string[];
  /** The versions that name those chunks: the files that lost bytes. */
  files?: VersionRef[];
}

/** Something worth a look that loses nothing. */
export interface VerifyWarning {
  /**
   * `unindexed-pack`: a pack object the index does not know, left by an upload cut off by a crash
   * (the next start removes it) or written by an upload still running.
   */
  kind: "unindexed-pack";
  /** The object's name. */
  pack: string;
  /** What was found, for people. */
  detail: string;
}

/** How much data a check reads; see `VerifyOptions.data`. */
export type VerifyData = "versions" | "structure" | "all" | { subsetPercent: number };

/** What `verifyRoot` found. */
export interface VerifyReport {
  /** What was read. */
  data: VerifyData;
  /** Versions checked. */
  versions: number;
  /** Bytes of versions read back and hashed. */
  bytes: number;
  /** Packs whose object, trailer and header were checked against the index. */
  packs: number;
  /** Packs whose every indexed chunk was read and hashed. */
  packsRead: number;
  /** Chunks read and hashed, in packs and in versions. */
  chunksRead: number;
  /**
   * Sealed chunks read (an encrypted repository's blobs): their lengths checked against the index
   * and the pack's header, their bytes not hashable (only the client holds the key of their ids),
   * so never a problem for their bytes. Not in `chunksRead`.
   */
  sealedChunks: number;
  /** Versions and packs removed by the running server while the check ran (not problems). */
  removedMeanwhile: number;
  /** What does not hold, in the order found. */
  problems: VerifyProblem[];
  /** What is worth a look. */
  warnings: VerifyWarning[];
}
