/**
 * README.md § Subscribing from TypeScript names every option of FeedSubscriberOptions and RetransmitOptions and every
 * event of FeedSubscriberEvents (src/subscriber/subscriber-types.ts, read as source: they are types only), and every
 * SubscriberCounters field is named in docs/wire-protocol.md or the README (`name` or `counters.name`), so an option,
 * event or counter added to the library without a word in the docs fails here. The README also says what a listener
 * may call (ingest() from one deferred, with its cap and counter): before 2026-12-06 it named on(), off() and stop() only.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, test } from "vitest";
import { MAX_FED_DATAGRAMS } from "../../src/subscriber/index.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const README = readFileSync(resolve(ROOT, "README.md"), "utf8");
const WIRE = readFileSync(resolve(ROOT, "docs/wire-protocol.md"), "utf8");
const TYPES = readFileSync(resolve(ROOT, "src/subscriber/subscriber-types.ts"), "utf8");

/** The member names of `export interface NAME { … }` (one member per line, comments skipped). */
function members(name: string): string[] {
  const start = TYPES.indexOf(`export interface ${name} {`);
  expect(start, `subscriber-types.ts declares ${name}`).toBeGreaterThanOrEqual(0);
  const body = TYPES.slice(start, TYPES.indexOf("\n}", start));
  return [...body.matchAll(/^ {2}(?:readonly )?([a-zA-Z]+)\??:/gm)].map((m) => m[1]!);
}

const section = README.slice(README.indexOf("## Subscribing from TypeScript"), README.indexOf("### Use from Node"));

describe("README.md § Subscribing from TypeScript", () => {
  test("names every FeedSubscriberOptions option, RetransmitOptions field and event", () => {
    const options = members("FeedSubscriberOptions");
    expect(options.length).toBeGreaterThan(10);
    for (const o of options.filter((o) => o !== "groups")) expect(section, `option ${o}`).toContain(`\`${o}\``);
    expect(section).toContain("groups: [{ group:");
    const retransmit = members("RetransmitOptions");
    const written = /`retransmit` \(`\{ ([^}]*) \}`/.exec(section)![1]!.split(", ").map((f) => f.replace("?", ""));
    expect(written.sort()).toEqual(retransmit.sort());
    const events = members("FeedSubscriberEvents");
    expect(events.length).toBe(11); // update, status, gap, session, supersede, repair, exponent, evict, stale, definition, error
    for (const e of events) expect(section, `event ${e}`).toContain(`\`${e}\``);
  });

  test("says what a listener may call, ingest() from one deferred up to MAX_FED_DATAGRAMS (its value) and fedOverCap", () => {
    for (const call of ["on()", "off()", "stop()", "ingest()", "checkRecovery()"]) expect(section, call).toContain(`\`${call}\``);
    expect(section).toContain(`\`MAX_FED_DATAGRAMS\`\n(${MAX_FED_DATAGRAMS}, exported)`);
    expect(section).toContain("`sub.counters.fedOverCap`");
  });

  test("every subscriber counter is named in docs/wire-protocol.md or the README", () => {
    const counters = members("SubscriberCounters");
    expect(counters.length).toBeGreaterThan(30);
    const named = (c: string) => [WIRE, README].some((t) => t.includes(`\`${c}\``) || t.includes(`counters.${c}\``) || t.includes(`\`${c}.`));
    expect(counters.filter((c) => !named(c))).toEqual([]);
  });
});
