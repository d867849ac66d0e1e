/**
 * A V8 heap snapshot summed by node type and name (constructor for objects, the function for
 * closures), and the difference of two such sums per unit (a poll, a session): where memory goes.
 */
interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export type HeapSummary = Map<string, { count: number; bytes: number }>;

export function summarizeSnapshot(json: string): HeapSummary {
  const snap = JSON.parse(json) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const [typeAt, nameAt, sizeAt] = [fields.indexOf('type'), fields.indexOf('name'), fields.indexOf('self_size')];
  const summary: HeapSummary = new Map();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    let name = snap.strings[snap.nodes[i + nameAt]!]!;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '';
    else if (name.length > 60) name = name.slice(0, 60);
    const key = `${type} ${name}`;
    const entry = summary.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += snap.nodes[i + sizeAt]!;
    summary.set(key, entry);
  }
  return summary;
}

export function heapDiff(before: HeapSummary, after: HeapSummary, units: number, top: number): string {
  const rows: Array<{ key: string; count: number; bytes: number }> = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    rows.push({ key, count: (a.count - b.count) / units, bytes: (a.bytes - b.bytes) / units });
  }
  rows.sort((x, y) => y.bytes - x.bytes);
  const total = rows.reduce((sum, r) => sum + r.bytes, 0);
  const lines = [`heap per unit: ${(total / 1024).toFixed(1)} KiB over ${units} units`, 'bytes/unit  objects/unit  type name'];
  for (const r of rows.slice(0, top)) lines.push(`${r.bytes.toFixed(0).padStart(10)}  ${r.count.toFixed(2).padStart(12)}  ${r.key}`);
  return lines.join('\n');
}
