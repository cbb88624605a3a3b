/**
 * The names nearest to a mistyped one, for messages that say what was meant: a command line's
 * unknown flag, the judge's unknown checker id.
 */

/** Levenshtein distance (insertions, deletions, substitutions), case-insensitive. */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  // one row of the dynamic-programming table at a time: row[j] is the distance of a[0, i) to b[0, j)
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      next[j] = Math.min(substitution, row[j]! + 1, next[j - 1]! + 1);
    }
    row = next;
  }
  return row[b.length]!;
}

/**
 * The `count` candidates nearest to `name` by edit distance, nearest first (ties keep the
 * candidates' order). `within` drops those further than that many edits: a guess that far off
 * would mislead more than help.
 */
export function closest(name: string, candidates: Iterable<string>, { count = 1, within = Number.POSITIVE_INFINITY } = {}): string[] {
  return [...candidates]
    .map((candidate, order) => ({ candidate, order, distance: editDistance(name, candidate) }))
    .filter(({ distance }) => distance <= within)
    .sort((x, y) => x.distance - y.distance || x.order - y.order)
    .slice(0, count)
    .map(({ candidate }) => candidate);
}
