/**
 * A bounded soak: many clients doing random backups, retrieves, deletes and lists against a real server
 * process, each checking content by SHA-256 against what it was last told is stored.
 *
 * @module
 */
import { toHex } from "../common/hex.ts";
import { BackupClient } from "../client/backup_client.ts";
import { FileNotFoundError } from "../protocol/errors.ts";
import { DENO_SERVER_ARGS, peakRssBytes, startServerProcess } from "../harness/server_process.ts";
import { concatBytes } from "../harness/bytes.ts";

/** Options of `runSoak`. */
export interface SoakOptions {
  /** How long the clients run. */
  seconds: number;
  /** How many clients run at once, each on its own connection and user id. */
  clients: number;
  /** Largest file a client backs up. */
  maxFileBytes?: number;
}

/** What a soak did and found. */
export interface SoakReport {
  operations: Record<"backup" | "retrieve" | "delete" | "list", number>;
  /** Answers that did not match the client's model, and unexpected errors. */
  errors: string[];
  /** Files checked at the end against the model. */
  filesVerified: number;
  /** The server process's peak resident memory (VmHWM), in bytes. */
  peakRssBytes: number | undefined;
  seconds: number;
}

const NAMES = ["a.txt", "dir/b.bin", "dir/sub/c.dat", "d", "e/f/g/h.bin"];

async function digest(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const hash = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return toHex(hash);
}

function randomContent(maxBytes: number): Uint8Array<ArrayBuffer> {
  const size = Math.random() < 0.1 ? 0 : Math.floor(Math.random() ** 3 * maxBytes);
  const bytes = new Uint8Array(size);
  for (let at = 0; at < size; at += 65536) {
    crypto.getRandomValues(bytes.subarray(at, Math.min(size, at + 65536)));
  }
  return bytes;
}

async function retrieveBytes(client: BackupClient, name: string): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  await client.retrieve(name, new WritableStream({ write: (chunk) => void chunks.push(chunk) }));
  return concatBytes(...chunks);
}

/** Runs the soak against a fresh server process on a temp root. */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const maxFileBytes = options.maxFileBytes ?? 512 * 1024;
  const root = await Deno.makeTempDir({ prefix: "backup-soak-" });
  const server = await startServerProcess(root, DENO_SERVER_ARGS);
  const operations = { backup: 0, retrieve: 0, delete: 0, list: 0 };
  const errors: string[] = [];
  const models: Map<string, string>[] = [];
  let peak: number | undefined;
  const deadline = performance.now() + options.seconds * 1000;
  try {
    await Promise.all(Array.from({ length: options.clients }, async (_, i) => {
      const userId = 70_000 + i;
      const model = new Map<string, string>(); // name -> digest of the last acknowledged content
      models.push(model);
      using client = await BackupClient.connect({ userId, port: server.port });
      while (performance.now() < deadline) {
        const name = NAMES[Math.floor(Math.random() * NAMES.length)];
        const roll = Math.random();
        try {
          if (roll < 0.4) {
            const content = randomContent(maxFileBytes);
            await client.backup(name, ReadableStream.from([content]), content.length);
            model.set(name, await digest(content));
            operations.backup++;
          } else if (roll < 0.7) {
            operations.retrieve++;
            const expected = model.get(name);
            try {
              const got = await digest(await retrieveBytes(client, name));
              if (got !== expected) errors.push(`user ${userId} ${name}: content differs`);
            } catch (error) {
              if (!(error instanceof FileNotFoundError) || expected !== undefined) throw error;
            }
          } else if (roll < 0.8) {
            operations.delete++;
            try {
              await client.delete(name);
              if (!model.delete(name)) {
                errors.push(`user ${userId} ${name}: deleted a missing file`);
              }
            } catch (error) {
              if (!(error instanceof FileNotFoundError) || model.has(name)) throw error;
            }
          } else {
            operations.list++;
            const listed = (await client.list()).join("\n");
            const expected = [...model.keys()].sort().join("\n");
            if (listed !== expected) {
              errors.push(`user ${userId}: list "${listed}" != "${expected}"`);
            }
          }
        } catch (error) {
          errors.push(`user ${userId} ${name}: ${error}`);
        }
      }
    }));
    let filesVerified = 0;
    for (const [i, model] of models.entries()) {
      using client = await BackupClient.connect({ userId: 70_000 + i, port: server.port });
      for (const [name, expected] of model) {
        const got = await digest(await retrieveBytes(client, name));
        if (got !== expected) errors.push(`final check: user ${70_000 + i} ${name} differs`);
        filesVerified++;
      }
    }
    peak = await peakRssBytes(server.pid);
    return { operations, errors, filesVerified, peakRssBytes: peak, seconds: options.seconds };
  } finally {
    await server.stop();
    await Deno.remove(root, { recursive: true });
  }
}
