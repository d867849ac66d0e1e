/**
 * Whether a parsed JSON value nests objects or arrays deeper than `max` levels (the value itself is
 * level 1 when it is an object or array). Iterative, so a value nested 300,000 levels deep (which
 * JSON.parse accepts but JSON.stringify and recursive code cannot handle) is measured safely.
 */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    if (depth > max) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
  return false;
}
