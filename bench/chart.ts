/** Renders throughput figures as a horizontal bar chart in SVG, from the benchmark's own numbers. */

/** One bar. */
export interface Bar {
  label: string;
  value: number;
  /** Limits are drawn grey, the server's figures blue. */
  kind: "limit" | "server";
}

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** An SVG document: one labelled bar per entry, scaled to the largest value. */
export function barChart(title: string, unit: string, bars: Bar[]): string {
  const width = 760;
  const labelWidth = 300;
  const barHeight = 22;
  const gap = 8;
  const top = 40;
  const height = top + bars.length * (barHeight + gap) + 20;
  const max = Math.max(...bars.map((bar) => bar.value), 1);
  const scale = (width - labelWidth - 110) / max;
  const rows = bars.map((bar, i) => {
    const y = top + i * (barHeight + gap);
    const length = Math.max(1, bar.value * scale);
    const color = bar.kind === "limit" ? "#9aa0a6" : "#1a73e8";
    return [
      `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escape(bar.label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${
        length.toFixed(1)
      }" height="${barHeight}" fill="${color}"/>`,
      `<text x="${(labelWidth + length + 6).toFixed(1)}" y="${y + 16}">${bar.value.toFixed(0)} ${
        escape(unit)
      }</text>`,
    ].join("");
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
    `font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="24" font-size="16" font-weight="bold">${escape(title)}</text>`,
    ...rows,
    `</svg>`,
    "",
  ].join("\n");
}
