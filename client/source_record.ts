/**
 * Which local folder each stored top-level name came from, kept by the client per server and user
 * (`~/.config/backup-client/sources.json`), so that `~/work/docs` and `~/personal/docs` are not
 * silently merged into one `docs/`: a second source for a name is refused unless asked for.
 *
 * @module
 */
import { configFolder } from "./user_id.ts";

/** Where the sources are kept. @throws {Error} if no home is known. */
export function sourceRecordPath(): string {
  return `${configFolder()}/sources.json`;
}

/** The record of one server and user. */
export class SourceRecord {
  readonly #path: string;
  readonly #key: string;
  #all: Record<string, Record<string, string>>;

  private constructor(path: string, key: string, all: Record<string, Record<string, string>>) {
    this.#path = path;
    this.#key = key;
    this.#all = all;
  }

  /** Reads the record for `server` and `userId` (an empty one if there is none yet). */
  static async load(
    server: string,
    userId: number,
    path = sourceRecordPath(),
  ): Promise<SourceRecord> {
    let all: Record<string, Record<string, string>> = {};
    try {
      all = JSON.parse(await Deno.readTextFile(path));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new Error(`${path} cannot be read: ${(error as Error).message}`);
      }
    }
    return new SourceRecord(path, `${server} ${userId}`, all);
  }

  /** The local folder `name` was backed up from, if known. */
  sourceOf(name: string): string | undefined {
    return this.#all[this.#key]?.[name];
  }

  /** Notes that `name` comes from `source` (absolute). */
  set(name: string, source: string): void {
    (this.#all[this.#key] ??= {})[name] = source;
  }

  /** Writes the record (beside, then renamed over the old one). */
  async save(): Promise<void> {
    await Deno.mkdir(this.#path.slice(0, this.#path.lastIndexOf("/")), { recursive: true });
    const partial = `${this.#path}.partial`;
    await Deno.writeTextFile(partial, JSON.stringify(this.#all, null, 2) + "\n", { mode: 0o600 });
    await Deno.rename(partial, this.#path);
  }
}
