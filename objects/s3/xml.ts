/**
 * Just enough XML for S3's answers (flat elements, no attributes read, no CDATA): pure.
 *
 * @module
 */

const ENTITIES: Record<string, string> = {
  amp: "&",
  lt: "<",
  gt: ">",
  quot: '"',
  apos: "'",
};

/** Decodes XML's character references and the five named entities. */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

/**
 * The raw text of each `<tag>…</tag>` in `xml`, in order (elements of that name must not nest);
 * `text` and `unescapeXml` decode it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * const xml = "<a><Key>x &amp; y</Key><Key>z</Key></a>";
 * assert.deepEqual(elements(xml, "Key"), ["x &amp; y", "z"]);
 * assert.equal(text(xml, "Key"), "x & y");
 * ```
 */
export function elements(xml: string, tag: string): string[] {
  const found: string[] = [];
  const open = `<${tag}>`;
  const close = `</${tag}>`;
  let from = 0;
  for (;;) {
    const start = xml.indexOf(open, from);
    if (start < 0) return found;
    const end = xml.indexOf(close, start + open.length);
    if (end < 0) return found;
    found.push(xml.slice(start + open.length, end));
    from = end + close.length;
  }
}

/** The unescaped text of the first `<tag>` in `xml`, or `undefined`. */
export function text(xml: string, tag: string): string | undefined {
  const [first] = elements(xml, tag);
  return first === undefined ? undefined : unescapeXml(first);
}
