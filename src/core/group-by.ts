/**
 * `rows` as lists by `keyOf`, each list in the rows' order, each row mapped by `map`: how
 * a statement's rows for many owners (a page of runs or versions) are split per owner.
 */
export function groupBy<R, K, V>(
  rows: readonly R[],
  keyOf: (row: R) => K,
  map: (row: R) => V,
): Map<K, V[]> {
  const groups = new Map<K, V[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const list = groups.get(key);
    if (list) list.push(map(row));
    else groups.set(key, [map(row)]);
  }
  return groups;
}
