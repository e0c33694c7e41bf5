/**
 * A small Prometheus text-format (0.0.4) writer. feeder's metrics are read from counters at scrape time, so
 * a registry library adds nothing but a dependency; this writer is tested by parsing its output back with the strict
 * parser below (test/app/prometheus.test.ts), which every test reading a scrape uses.
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

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A value as the format's readers (Go's strconv.ParseFloat) take it: a decimal float, NaN, ±Inf. */
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);

/**
 * Parses exposition text (format 0.0.4) back into samples, and checks it as strictly as the format allows (used by
 * the tests on every scrape they read): throws naming the line on anything a scraper would refuse or read wrongly:
 * a malformed line, name, label or value; an escape other than `\\`, `\"`, `\n`; a label given twice in a sample; a
 * second HELP or TYPE of a family, or a TYPE after its samples; a family's lines not in one group; a series (name and
 * labels) given twice; a histogram series whose buckets are not cumulative in increasing `le` ending with `+Inf`, or
 * whose `_count` is not that bucket, or without its `_sum`; a sample of a histogram family without a suffix.
 */
export function parsePrometheusText(text: string): { samples: ParsedSample[]; types: Map<string, string>; help: Map<string, string> } {
  const samples: ParsedSample[] = [];
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  if (text !== "" && !text.endsWith("\n")) throw new Error("malformed exposition: the last line does not end with a newline");
  /** Families whose group of lines has ended (one of another family came after it). */
  const ended = new Set<string>();
  let current: string | undefined;
  const sampled = new Set<string>();
  const series = new Set<string>();
  const enter = (family: string, line: string) => {
    if (family === current) return;
    if (ended.has(family)) throw new Error(`malformed exposition: the lines of ${family} are not one group: ${line}`);
    if (current !== undefined) ended.add(current);
    current = family;
  };
  const familyOf = (name: string) => {
    const base = name.replace(/_(bucket|sum|count)$/, "");
    const t = types.get(base);
    return base !== name && (t === "histogram" || (t === "summary" && !name.endsWith("_bucket"))) ? base : name;
  };
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.trim() === "") continue;
    if (line.startsWith("#")) {
      const m = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line);
      if (!m) continue; // another comment
      const [, kind, name, rest = ""] = m as unknown as [string, string, string, string | undefined];
      if (!NAME.test(name)) throw new Error(`malformed metric name in ${line}`);
      enter(name, line);
      if (kind === "HELP") {
        if (help.has(name)) throw new Error(`malformed exposition: a second HELP for ${name}: ${line}`);
        help.set(name, unescapeText(rest, false, line));
      } else {
        if (types.has(name)) throw new Error(`malformed exposition: a second TYPE for ${name}: ${line}`);
        if (sampled.has(name)) throw new Error(`malformed exposition: the TYPE of ${name} after its samples: ${line}`);
        if (!TYPES.has(rest.trim())) throw new Error(`malformed type in ${line}`);
        types.set(name, rest.trim());
      }
      continue;
    }
    const sample = parseSampleLine(line);
    const family = familyOf(sample.name);
    enter(family, line);
    sampled.add(family);
    const t = types.get(family);
    if (t === "histogram" && family === sample.name) throw new Error(`malformed exposition: a sample of histogram ${family} without _bucket, _sum or _count: ${line}`);
    if ((t === "histogram" && sample.name.endsWith("_bucket")) !== Object.hasOwn(sample.labels, "le")) throw new Error(`malformed exposition: le belongs on a histogram's _bucket samples and only there: ${line}`);
    const key = `${sample.name}{${Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")}}`;
    if (series.has(key)) throw new Error(`malformed exposition: series given twice: ${line}`);
    series.add(key);
    samples.push(sample);
  }
  checkHistograms(samples, types);
  return { samples, types, help };
}

/** One sample line: name, labels, value and an optional timestamp, with blanks between as the format allows. */
function parseSampleLine(line: string): ParsedSample {
  const bad = (what: string): never => {
    throw new Error(`malformed ${what}: ${line}`);
  };
  const nameEnd = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0].length ?? bad("metrics line");
  const name = line.slice(0, nameEnd);
  const labels: Record<string, string> = {};
  let i = nameEnd;
  const blanks = () => {
    while (line[i] === " " || line[i] === "\t") i++;
  };
  blanks();
  const labelled = line[i] === "{";
  if (labelled) {
    i++;
    for (;;) {
      blanks();
      if (line[i] === "}") break;
      const label = /^[a-zA-Z0-9_]+/.exec(line.slice(i))?.[0] ?? bad("labels");
      if (!LABEL_NAME.test(label) || label.startsWith("__")) bad(`label name ${JSON.stringify(label)}`);
      if (Object.hasOwn(labels, label)) bad(`labels (${label} given twice)`);
      i += label.length;
      blanks();
      if (line[i] !== "=") bad("labels");
      i++;
      blanks();
      if (line[i] !== '"') bad("labels");
      let raw = "";
      for (i++; line[i] !== '"'; i++) {
        if (i >= line.length) bad("labels (a value not closed)");
        if (line[i] === "\\") {
          raw += "\\";
          if (++i >= line.length) bad("labels (a value not closed)");
        }
        raw += line[i]!;
      }
      i++;
      labels[label] = unescapeText(raw, true, line);
      blanks();
      if (line[i] === ",") i++;
      else if (line[i] !== "}") bad("labels");
    }
    i++;
  }
  // The value (and a timestamp) after blanks: `name 1`, `name{a="b"} 1`.
  if (labelled ? line[i] !== " " && line[i] !== "\t" : i === nameEnd) bad("metrics line");
  const rest = line.slice(i).trim().split(/[ \t]+/);
  if (rest.length > 2 || rest[0] === "") bad("metrics line");
  const raw = rest[0]!;
  if (rest.length === 2 && !/^-?\d+$/.test(rest[1]!)) bad("timestamp");
  const value = /^[+-]?inf(inity)?$/i.test(raw) ? (raw.startsWith("-") ? -Infinity : Infinity) : /^nan$/i.test(raw) ? NaN : FLOAT.test(raw) ? Number(raw) : bad("value");
  return { name, labels, value };
}

/** A label value's (`quotes`) or a HELP text's escapes: `\\`, `\n`, and in a label value `\"`; any other is refused. */
function unescapeText(raw: string, quotes: boolean, line: string): string {
  return raw.replace(/\\(.?)/g, (_, c: string) => {
    if (c === "\\") return "\\";
    if (c === "n") return "\n";
    if (c === '"' && quotes) return '"';
    throw new Error(`malformed escape \\${c} in ${line}`);
  });
}

/** Each histogram series: buckets in increasing `le` ending with +Inf, cumulative, `_count` the +Inf bucket, a `_sum`. */
function checkHistograms(samples: readonly ParsedSample[], types: ReadonlyMap<string, string>): void {
  const byKey = new Map<string, { buckets: ParsedSample[]; sum?: number; count?: number }>();
  for (const s of samples) {
    const m = /^(.*)_(bucket|sum|count)$/.exec(s.name);
    if (!m || types.get(m[1]!) !== "histogram") continue;
    const { le: _le, ...rest } = s.labels;
    const key = `${m[1]}${JSON.stringify(Object.entries(rest).sort(([a], [b]) => (a < b ? -1 : 1)))}`;
    let h = byKey.get(key);
    if (!h) byKey.set(key, (h = { buckets: [] }));
    if (m[2] === "bucket") h.buckets.push(s);
    else if (m[2] === "sum") h.sum = s.value;
    else h.count = s.value;
  }
  for (const [key, h] of byKey) {
    const last = h.buckets[h.buckets.length - 1];
    if (last === undefined || last.labels.le !== "+Inf") throw new Error(`malformed histogram ${key}: no +Inf bucket last`);
    let le = -Infinity;
    let value = 0;
    for (const b of h.buckets) {
      const bound = b.labels.le === "+Inf" ? Infinity : FLOAT.test(b.labels.le!) ? Number(b.labels.le) : NaN;
      if (!(bound > le)) throw new Error(`malformed histogram ${key}: le ${JSON.stringify(b.labels.le)} not above the bucket before`);
      if (!(b.value >= value)) throw new Error(`malformed histogram ${key}: bucket le=${b.labels.le} (${b.value}) below the one before (${value}): not cumulative`);
      le = bound;
      value = b.value;
    }
    if (h.count !== last.value) throw new Error(`malformed histogram ${key}: _count ${h.count} is not the +Inf bucket ${last.value}`);
    if (h.sum === undefined) throw new Error(`malformed histogram ${key}: no _sum`);
  }
}
