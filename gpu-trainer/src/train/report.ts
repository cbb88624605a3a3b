/**
 * What a run shows and leaves behind: a progress bar on a TTY (plain lines otherwise), metrics as
 * JSONL, an SVG plot of the loss and reward margins, and a summary.
 */
import { existsSync } from "node:fs";
import { appendFile, readFile, writeFile } from "node:fs/promises";

/** One metrics row: a training step (`loss`, `rewards/margins`, ...) or an evaluation (evalMetric's names). */
export type MetricsRow = { step: number } & Record<string, number>;

/**
 * An evaluation's name for a metric, the HF Trainer's and TRL's: `eval_loss`, `eval_rewards/margins`,
 * so that tools reading their logs read ours.
 */
export const evalMetric = (name: string) => `eval_${name}`;

/** Runs before the HF names wrote evaluations as `eval/loss`, `eval/rewards/margins`, ... */
const LEGACY_EVAL_PREFIX = "eval/";

/** A row or summary read back from a run, under today's names (an older run's `eval/x` becomes evalMetric(x)). */
export function withCurrentMetricNames<T extends Record<string, number>>(row: T): T {
  if (!Object.keys(row).some((k) => k.startsWith(LEGACY_EVAL_PREFIX))) return row;
  return Object.fromEntries(
    Object.entries(row).map(([k, v]) => [k.startsWith(LEGACY_EVAL_PREFIX) ? evalMetric(k.slice(LEGACY_EVAL_PREFIX.length)) : k, v]),
  ) as T;
}

/** The rows of a run's metrics.jsonl (none if absent), under today's names. */
export async function readMetrics(path: string): Promise<MetricsRow[]> {
  if (!existsSync(path)) return [];
  return (await readFile(path, "utf8"))
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [withCurrentMetricNames(JSON.parse(l) as MetricsRow)];
      } catch {
        return []; // a line cut short by a kill
      }
    });
}

export class MetricsLog {
  constructor(readonly path: string) {}

  /** Keep only rows up to `step` (a resumed run rewrites what followed its checkpoint, under today's names). */
  async truncateAfter(step: number): Promise<MetricsRow[]> {
    if (!existsSync(this.path)) return [];
    const rows = (await readMetrics(this.path)).filter((r) => r.step <= step);
    await writeFile(this.path, rows.map((r) => JSON.stringify(r) + "\n").join(""));
    return rows;
  }

  async append(row: MetricsRow): Promise<void> {
    await appendFile(this.path, JSON.stringify(row) + "\n");
  }
}

const fmt = (v: number | undefined, digits = 4) =>
  v === undefined || Number.isNaN(v) ? "-" : Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(2) : v.toFixed(digits);

function duration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, "0")}m` : m ? `${m}m${String(sec).padStart(2, "0")}s` : `${sec}s`;
}

/** The short line describing a step (both display modes). */
export function describeStep(row: MetricsRow): string {
  const parts = [`loss ${fmt(row.loss)}`];
  if (row["rewards/accuracies"] !== undefined) parts.push(`acc ${fmt(row["rewards/accuracies"], 2)}`);
  if (row["rewards/margins"] !== undefined) parts.push(`margin ${fmt(row["rewards/margins"])}`);
  parts.push(
    `gnorm ${fmt(row.grad_norm, 3)}`,
    `lr ${row.learning_rate.toExponential(2)}`,
    `${Number.isFinite(row["tokens/s"]) ? Math.round(row["tokens/s"]) : "-"} tok/s`,
  );
  return parts.join("  ");
}

export type ProgressMode = "bar" | "lines" | "none";

export class Progress {
  private started = performance.now();
  private startStep = 0;
  private lastWidth = 0;
  constructor(
    readonly mode: ProgressMode,
    readonly total: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  begin(step: number) {
    this.started = performance.now();
    this.startStep = step;
  }

  step(row: MetricsRow) {
    if (this.mode === "none") return;
    const done = row.step - this.startStep;
    const elapsed = (performance.now() - this.started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (this.total - row.step) : Infinity;
    if (this.mode === "lines") {
      this.stream.write(`step ${row.step}/${this.total}  ${describeStep(row)}  eta ${duration(eta)}\n`);
      return;
    }
    const width = 24;
    const filled = Math.round((row.step / this.total) * width);
    const bar = `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
    const line = `${bar} ${row.step}/${this.total}  ${describeStep(row)}  eta ${duration(eta)}`;
    const cols = this.stream.columns ?? 120;
    const shown = line.slice(0, cols - 1);
    this.stream.write(`\r${shown}${" ".repeat(Math.max(0, this.lastWidth - shown.length))}`);
    this.lastWidth = shown.length;
  }

  /** A message that must not be overwritten by the bar. */
  note(line: string) {
    if (this.mode === "bar" && this.lastWidth) {
      this.stream.write(`\r${" ".repeat(this.lastWidth)}\r`);
      this.lastWidth = 0;
    }
    if (this.mode !== "none") this.stream.write(`${line}\n`);
  }

  end() {
    if (this.mode === "bar" && this.lastWidth) this.stream.write("\n");
    this.lastWidth = 0;
  }
}

// ---- the plot ----

interface Series {
  label: string;
  color: string;
  points: [number, number][];
  dots?: boolean;
}

/**
 * About `count` evenly spaced round values covering [min, max], as people draw axes: the step is
 * 1, 2, 2.5 or 5 times a power of ten (`integers`: 1, 2 or 5, at least 1), each tick a whole
 * multiple of it, labelled with the step's decimals: "0.0004", never "-3.77e-4".
 */
export function niceTicks(min: number, max: number, { count = 4, integers = false } = {}): { values: number[]; labels: string[] } {
  const raw = (max - min) / count;
  const power = integers ? Math.max(1, 10 ** Math.floor(Math.log10(raw))) : 10 ** Math.floor(Math.log10(raw));
  const multiple = (integers ? [1, 2, 5, 10] : [1, 2, 2.5, 5, 10]).find((m) => m * power >= raw)!;
  const step = multiple * power;
  // as many decimals as the step has (2.5 x 10^k one more than 10^k); beyond 6, an exponent
  const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (multiple === 2.5 ? 1 : 0));
  const values: number[] = [];
  const labels: string[] = [];
  for (let k = Math.floor(min / step); k <= Math.ceil(max / step); k++) {
    values.push(k * step);
    labels.push(decimals > 6 ? (k * step).toExponential(1) : (k * step).toFixed(decimals));
  }
  return { values, labels };
}

function panel(x0: number, y0: number, w: number, h: number, title: string, series: Series[]): string {
  const pts = series.flatMap((s) => s.points).filter(([, y]) => Number.isFinite(y));
  if (!pts.length) return `<text x="${x0 + w / 2}" y="${y0 + h / 2}" text-anchor="middle" fill="#888">${title}: no data</text>`;
  let [xmin, xmax] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  let [ymin, ymax] = [Math.min(...pts.map((p) => p[1])), Math.max(...pts.map((p) => p[1]))];
  if (ymax === ymin) [ymin, ymax] = [ymin - 0.5, ymax + 0.5];
  // the axes run from the first round tick to the last, so the grid lines sit on the labels
  const yTicks = niceTicks(ymin, ymax);
  [ymin, ymax] = [yTicks.values[0]!, yTicks.values.at(-1)!];
  const xTicks = niceTicks(xmin, Math.max(xmax, xmin + 4), { integers: true }); // optimizer steps
  [xmin, xmax] = [xTicks.values[0]!, xTicks.values.at(-1)!];
  const L = 56;
  const B = 28;
  const px = (x: number) => x0 + L + ((x - xmin) / (xmax - xmin)) * (w - L - 10);
  const py = (y: number) => y0 + h - B - ((y - ymin) / (ymax - ymin)) * (h - B - 24);
  const out: string[] = [];
  out.push(`<text x="${x0 + L}" y="${y0 + 16}" font-weight="bold">${title}</text>`);
  out.push(`<rect x="${x0 + L}" y="${y0 + 24}" width="${w - L - 10}" height="${h - B - 24}" fill="none" stroke="#ccc"/>`);
  yTicks.values.forEach((y, i) => {
    out.push(`<line x1="${x0 + L}" x2="${x0 + w - 10}" y1="${py(y).toFixed(1)}" y2="${py(y).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${x0 + L - 4}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end" font-size="10">${yTicks.labels[i]}</text>`);
  });
  xTicks.values.forEach((x, i) => {
    out.push(`<text x="${px(x).toFixed(1)}" y="${y0 + h - 12}" text-anchor="middle" font-size="10">${xTicks.labels[i]}</text>`);
  });
  series.forEach((s, k) => {
    const p = s.points.filter(([, y]) => Number.isFinite(y));
    if (!p.length) return;
    if (s.dots) for (const [x, y] of p) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    else
      out.push(
        `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${p.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ")}"/>`,
      );
    out.push(`<text x="${x0 + w - 14}" y="${y0 + 16 + 13 * k}" text-anchor="end" font-size="11" fill="${s.color}">${s.label}</text>`);
  });
  return out.join("\n");
}

/** An SVG with the training (and eval) loss and the reward margins against the step. */
export function plotSvg(rows: MetricsRow[], title: string): string {
  const train = rows.filter((r) => r.loss !== undefined);
  const evals = rows.filter((r) => r[evalMetric("loss")] !== undefined);
  const W = 720;
  const H = 260;
  const loss: Series[] = [
    { label: "train loss", color: "#1f77b4", points: train.map((r) => [r.step, r.loss]) },
    { label: "eval loss", color: "#d62728", points: evals.map((r) => [r.step, r[evalMetric("loss")]]), dots: true },
  ];
  const margins: Series[] = [
    { label: "train margin", color: "#2ca02c", points: train.map((r) => [r.step, r["rewards/margins"]]) },
    { label: "eval margin", color: "#ff7f0e", points: evals.map((r) => [r.step, r[evalMetric("rewards/margins")]]), dots: true },
  ];
  const hasMargins = train.some((r) => r["rewards/margins"] !== undefined);
  const height = hasMargins ? 2 * H + 30 : H + 30;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>`,
    panel(0, 24, W, H, "loss", loss),
    hasMargins ? panel(0, 24 + H, W, H, "reward margins", margins) : "",
    `</svg>`,
    "",
  ].join("\n");
}
