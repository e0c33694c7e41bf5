/**
 * What a valid configuration does that is probably not what was meant, though harmless: said, never refused (a file
 * that has run for months must not stop loading at the next restart for it). check-config prints each as a
 * `# note:` line; run and record log each as a warning at start.
 * @module
 */
import type { FeederConfig } from "./types.ts";

/**
 * A multicast destination with `ttl` above 1 sending from a loopback interface: datagrams sent from loopback never
 * leave this host, whatever the TTL, so a TTL set for routers to pass suggests an `interface` left at its default
 * (127.0.0.1) where this host's address on the network was meant. Not refused: on loopback the TTL changes nothing.
 */
export function loopbackTtlNotes(config: FeederConfig): string[] {
  return config.publish.destinations.flatMap((d, i) =>
    d.group !== undefined && isLoopbackTtl(d.ttl, d.iface)
      ? [`publish.destinations[${i}] (${JSON.stringify(d.name)}): ttl = ${d.ttl} with interface ${d.iface}: ${loopbackTtlWhy("set interface")}`]
      : [],
  );
}

/** Whether multicast sent from `iface` with `ttl` is the case above (also `bridge from-nats --ttl` with `--iface`). */
export function isLoopbackTtl(ttl: number, iface: string): boolean {
  return ttl > 1 && iface.startsWith("127.");
}

/** The words of that note after what was set, one text for the file and the bridge's flags (`setIt`: how to fix it). */
export function loopbackTtlWhy(setIt: string): string {
  return `datagrams sent from loopback never leave this host, whatever the TTL; to reach subscribers on other hosts, ${setIt} to this host's address on their network`;
}

/**
 * A routing rule listing, beside "*", a symbol no configured market of its venue and market has: "*" routes every
 * configured symbol, so the listed one changes nothing; most likely a symbol taken out of the venue and left here, or
 * a typo. Not refused (it was, briefly, on 2026-12-06): the file routed the same before and after the slip.
 */
export function starRuleSymbolNotes(config: FeederConfig): string[] {
  return config.publish.destinations.flatMap((d, i) => {
    const r = d.match;
    if (!r.symbols.includes("*") || config.venues.length === 0) return [];
    const known = new Set(
      config.venues
        .filter((v) => r.venue === "*" || v.venue === r.venue)
        .flatMap((v) => v.markets.filter((m) => r.market === "*" || m.market === r.market).flatMap((m) => m.symbols)),
    );
    return r.symbols
      .filter((s) => s !== "*" && !known.has(s))
      .map((s) => `publish.destinations[${i}] (${JSON.stringify(d.name)}): symbols lists ${JSON.stringify(s)} beside "*", and no configured market of venue ${r.venue}, market ${r.market} has it (${[...known].join(", ") || "none"}): "*" routes every configured symbol; remove it, or correct it if another was meant`);
  });
}

/** Every note, in the order check-config prints them and run and record log them. */
export function configNotes(config: FeederConfig): string[] {
  return [...loopbackTtlNotes(config), ...starRuleSymbolNotes(config)];
}
