/**
 * A small Prometheus text-format (0.0.4) writer. feeder's metrics are read from counters at scrape time, so
 * a registry library adds nothing but a dependency; this writer is tested by parsing its output back
 * (test/app/prometheus.test.ts).
 * @module
 */
/** What a histogram sample needs; LatencyHistogram has this shape, and so does its structured clone. */
export interface HistogramData {
  readonly boundsUs: readonly number[];
  readonly counts: ArrayLike<number>;
  readonly count: number;
  readonly sumUs: number;
}

export type Labels = Readonly<Record<string, string | number>>;

export type FamilyType = "counter" | "gauge" | "histogram";

/** A family's declaration (what `family()` was given). */
export interface FamilyMeta {
  readonly name: string;
  readonly type: FamilyType;
  readonly help: string;
}

/**
 * What a counter series (`head`: its name and labels as written, in `family`) is written as, given what its source
 * counts.
 */
export interface CounterAdjust {
  value(family: FamilyMeta, head: string, counted: number): number;
}

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export class PromWriter {
  /** Lines per family, so samples added in any order come out grouped as the format requires. */
  private readonly families = new Map<string, { meta: FamilyMeta; lines: string[] }>();
  /**
   * While set, every counter and histogram sample written goes through it (a restarted worker's counts carried:
   * metrics.ts CounterCarry); gauges never do.
   */
  carry: CounterAdjust | undefined;

  /** Declares a family once (HELP and TYPE); samples are then added with `sample` or `histogram`. */
  family(name: string, type: FamilyType, help: string): this {
    if (this.families.has(name)) return this;
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    this.families.set(name, { meta: { name, type, help }, lines: [`# HELP ${name} ${help.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}`, `# TYPE ${name} ${type}`] });
    return this;
  }

  /** The declared type of a family, undefined when it was not declared. */
  typeOf(name: string): string | undefined {
    return this.families.get(name)?.meta.type;
  }

  sample(name: string, labels: Labels, value: number): this {
    const f = this.familyOf(name);
    const head = `${name}${renderLabels(labels)}`;
    f.lines.push(`${head} ${renderValue(this.carry !== undefined && f.meta.type !== "gauge" ? this.carry.value(f.meta, head, value) : value)}`);
    return this;
  }

  /** One sample line as given (`head`: name and labels already rendered) in a declared family; never adjusted. */
  line(family: string, head: string, value: number): this {
    const f = this.families.get(family);
    if (!f) throw new Error(`metric ${family} was not declared with family()`);
    f.lines.push(`${head} ${renderValue(value)}`);
    return this;
  }

  /** Writes a histogram family's _bucket (cumulative), _sum and _count samples; values in seconds. */
  histogram(name: string, labels: Labels, h: HistogramData): this {
    const f = this.families.get(name);
    if (!f || f.meta.type !== "histogram") throw new Error(`histogram ${name} was not declared with family()`);
    // Built once per series (not per bucket): the label text, and the le values of these bounds.
    const pairs = labelPairs(labels);
    const open = pairs === "" ? "{" : `{${pairs},`;
    const les = leStrings(h.boundsUs);
    const carry = this.carry;
    const line = (head: string, value: number) => f.lines.push(`${head} ${renderValue(carry === undefined ? value : carry.value(f.meta, head, value))}`);
    let cumulative = 0;
    for (let i = 0; i < h.boundsUs.length; i++) {
      cumulative += h.counts[i]!;
      line(`${name}_bucket${open}le="${les[i]}"}`, cumulative);
    }
    line(`${name}_bucket${open}le="+Inf"}`, h.count);
    const plain = pairs === "" ? "" : `{${pairs}}`;
    line(`${name}_sum${plain}`, h.sumUs / 1e6);
    line(`${name}_count${plain}`, h.count);
    return this;
  }

  text(): string {
    const out: string[] = [];
    for (const f of this.families.values()) out.push(...f.lines);
    return out.join("\n") + "\n";
  }

  private familyOf(sampleName: string): { meta: FamilyMeta; lines: string[] } {
    const direct = this.families.get(sampleName);
    if (direct) return direct;
    const base = sampleName.replace(/_(bucket|sum|count)$/, "");
    const hist = this.families.get(base);
    if (hist && hist.meta.type === "histogram") return hist;
    throw new Error(`metric ${sampleName} was not declared with family()`);
  }
}

function renderLabels(labels: Labels): string {
  const pairs = labelPairs(labels);
  return pairs === "" ? "" : `{${pairs}}`;
}

function labelPairs(labels: Labels): string {
  let out = "";
  for (const k in labels) out += `${out === "" ? "" : ","}${k}="${escapeLabel(String(labels[k]))}"`;
  return out;
}

/** `le` label values by bounds array (the histograms share one). */
const LE_CACHE = new WeakMap<readonly number[], string[]>();
function leStrings(boundsUs: readonly number[]): string[] {
  let les = LE_CACHE.get(boundsUs);
  if (!les) {
    les = boundsUs.map((b) => String(b / 1e6));
    LE_CACHE.set(boundsUs, les);
  }
  return les;
}

function escapeLabel(v: string): string {
  return /[\\\n"]/.test(v) ? v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"') : v;
}

function renderValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses exposition text back into samples (used by tests and `feeder` tooling); throws on a malformed line. */
export function parsePrometheusText(text: string): { samples: ParsedSample[]; types: Map<string, string> } {
  const samples: ParsedSample[] = [];
  const types = new Map<string, string>();
  const lineRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/;
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("# TYPE ")) {
      const [, , name, type] = line.split(" ");
      types.set(name!, type!);
      continue;
    }
    if (line.startsWith("#")) continue;
    const m = lineRe.exec(line);
    if (!m) throw new Error(`malformed metrics line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[3]) {
      labelRe.lastIndex = 0;
      let consumed = 0;
      let lm: RegExpExecArray | null;
      while ((lm = labelRe.exec(m[3])) !== null) {
        // One pass, left to right: `\\n` is a backslash and an n, not a backslash and a newline.
        labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
        consumed = labelRe.lastIndex;
        if (lm[3] === "") break;
      }
      if (consumed !== m[3].length) throw new Error(`malformed labels: ${line}`);
    }
    const raw = m[4]!;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    if (raw !== "NaN" && Number.isNaN(value)) throw new Error(`malformed value: ${line}`);
    samples.push({ name: m[1]!, labels, value });
  }
  return { samples, types };
}
