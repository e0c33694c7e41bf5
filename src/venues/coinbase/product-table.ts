// HOT PATH: no allocation (find, in the common NameTable)
/**
 * Product id → entry for one Coinbase connection: the common name table (common/name-table.ts) as it is. The
 * scanner hashes the product id's char codes in place (fnvStep) and find compares them, with no substring.
 * @module
 */
export { FNV_OFFSET, fnvStep, NameTable as ProductTable } from "../common/name-table.ts";
