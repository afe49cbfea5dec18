/**
 * Searches a whole bucket for strings, as someone holding the bucket but no key would: every
 * object's key, response headers and body (streamed, so memory stays bounded by the longest
 * needle, not by the objects), and the keys of multipart uploads left pending; and a server's
 * local folder the same way.
 *
 * @module
 */
import { type S3Client, S3Error } from "../../objects/s3/s3_client.ts";

/** What a search looked at, and where each needle was found. */
export interface Search {
  /** `NEEDLE in WHERE`, one per needle and place. */
  found: string[];
  /** Objects (or files) read whole. */
  read: number;
  bytes: number;
}

const latin1 = new TextDecoder("latin1");

/**
 * Every object under `prefix` ("" for the whole bucket), searched for each of `needles` (ASCII).
 *
 * @example
 * ```ts ignore
 * const { found } = await searchBucket(new S3Client(testLocation()), "", ["secret"]);
 * ```
 */
export async function searchBucket(
  client: S3Client,
  prefix: string,
  needles: string[],
): Promise<Search> {
  const search: Search = { found: [], read: 0, bytes: 0 };
  const inText = (text: string, where: string) => {
    for (const needle of needles) {
      if (text.includes(needle)) search.found.push(`${needle} in ${where}`);
    }
  };
  for await (const page of client.list(prefix)) {
    for (const { key } of page) {
      inText(key, `the key ${key}`);
      const response = await client.get(key).catch((error) => {
        // Deleted between the listing and the read (another test's cleanup): nothing to search.
        if (error instanceof S3Error && error.status === 404) return undefined;
        throw error;
      });
      if (!response) continue;
      const headers = [...response.headers].map(([name, value]) => `${name}: ${value}`);
      inText(headers.join("\n"), `the headers of ${key}`);
      await searchStream(response.body!, needles, `the body of ${key}`, search);
    }
  }
  for await (const { key } of client.pendingUploads(prefix)) inText(key, `a pending upload ${key}`);
  return search;
}

/** Every file under `root` (names and contents), searched for each of `needles` (ASCII). */
export async function searchFolder(root: string, needles: string[]): Promise<Search> {
  const search: Search = { found: [], read: 0, bytes: 0 };
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = `${dir}/${entry.name}`;
      for (const needle of needles) {
        if (entry.name.includes(needle)) search.found.push(`${needle} in the name ${path}`);
      }
      if (entry.isDirectory) await walk(path);
      if (!entry.isFile) continue;
      // The readable closes the file when it ends.
      const file = await Deno.open(path);
      await searchStream(file.readable, needles, path, search);
    }
  };
  await walk(root);
  return search;
}

/** Streams `body` into `search`, keeping only a needle's length of overlap between chunks. */
async function searchStream(
  body: ReadableStream<Uint8Array>,
  needles: string[],
  where: string,
  search: Search,
): Promise<void> {
  // ASCII needles sit at the same offsets in a latin1 view of the bytes.
  const overlap = Math.max(0, ...needles.map((needle) => needle.length - 1));
  const left = new Set(needles);
  let tail = "";
  for await (const chunk of body) {
    search.bytes += chunk.length;
    const text = tail + latin1.decode(chunk);
    for (const needle of left) {
      if (!text.includes(needle)) continue;
      left.delete(needle);
      search.found.push(`${needle} in ${where}`);
    }
    tail = overlap === 0 ? "" : text.slice(-overlap);
  }
  search.read++;
}
