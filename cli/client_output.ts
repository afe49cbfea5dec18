/**
 * Where a client command's results, notes and warnings go: stdout for results (JSON lines with
 * `--json`), stderr for the rest. Apart from the commands so that every command can print without
 * loading the others.
 *
 * @module
 */

/** Writes results for people or, with `--json`, for scripts. */
export class Output {
  /**
   * @param json one JSON object per result on stdout
   * @param quiet no notes or progress on stderr
   */
  constructor(readonly json: boolean, readonly quiet: boolean) {}

  /** A result: a JSON line, or the human text on stdout. */
  result(fields: Record<string, unknown>, human: string): void {
    console.log(this.json ? JSON.stringify({ ok: true, ...fields }) : human);
  }

  /** A side note for people, on stderr. */
  note(text: string): void {
    if (!this.quiet && !this.json) console.error(text);
  }

  /** Something that went wrong while the command goes on: always on stderr, even when quiet. */
  warn(text: string): void {
    console.error(`backup-client: ${text}`);
  }
}

/**
 * An `Output` whose results and warnings are held until `flush`: work done on several connections
 * at once prints in a stable order. Progress lines show only when one thing runs at a time.
 */
export class DeferredOutput {
  readonly #output: Output;
  readonly #pending: Array<() => void> = [];

  /** @param output where the lines go on `flush` */
  constructor(output: Output, readonly quietProgress = true) {
    this.#output = output;
  }

  /** See `Output.result`. */
  result(fields: Record<string, unknown>, human: string): void {
    this.#pending.push(() => this.#output.result(fields, human));
  }

  /** See `Output.warn`. */
  warn(text: string): void {
    this.#pending.push(() => this.#output.warn(text));
  }

  /** Prints what was held. */
  flush(): void {
    for (const line of this.#pending.splice(0)) line();
  }
}
