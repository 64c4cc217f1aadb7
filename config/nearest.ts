// The name a misspelt one was probably meant to be: for settings that are not settings, and flags a release lacks.

/** Edits (insertions, deletions, substitutions) that turn `a` into `b`. */
function editDistance(a: string, b: string): number {
    let row = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
        const next = [i];
        for (let j = 1; j <= b.length; j++) {
            next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
        }
        row = next;
    }
    return row[b.length];
}

/** Of `names`, the nearest to `name` (case aside) within two edits, or nothing. */
export function nearestName(name: string, names: readonly string[]): string | undefined {
    const [nearest] = names.map(n => ({ n, d: editDistance(name.toLowerCase(), n.toLowerCase()) }))
        .filter(({ d }) => d <= 2).sort((a, b) => a.d - b.d);
    return nearest?.n;
}
