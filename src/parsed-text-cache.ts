/**
 * A bounded map from an exact input text to what was parsed from it. The key is the whole text,
 * so a hit is the parse of that very text and can never be stale: an input that changed in any
 * byte is another key, parsed afresh. `parse` must depend on nothing but the text.
 *
 * Each value is deep-frozen as it is kept (deepFreeze): one parse is shared by every caller that
 * meets the same text, so none may change it for the others.
 *
 * Bounded twice, since each key is held: by entries and by the keys' total length (UTF-16 code
 * units); the least recently used go first. A text longer than `maxChars` is parsed and not kept.
 */
export class ParsedTextCache<V extends object> {
  /** each kept parse with the tick of its last use */
  private readonly entries = new Map<string, { value: V; used: number }>()
  private chars = 0
  private tick = 0

  constructor(
    readonly maxEntries: number,
    readonly maxChars: number,
  ) {}

  /** The parse of `text`, deep-frozen: the kept one, else `parse(text)` (kept when it fits the bounds). */
  get(text: string, parse: (text: string) => V): V {
    // A hit marks its entry used and moves nothing: a delete and a set per hit (to keep the Map in
    // use order) compared the key text twice more, ~0.4 µs for a 450-character text (issue #17).
    const hit = this.entries.get(text)
    if (hit) {
      hit.used = ++this.tick
      return hit.value
    }
    const value = deepFreeze(parse(text))
    if (text.length > this.maxChars) return value
    this.entries.set(text, { value, used: ++this.tick })
    this.chars += text.length
    while (this.entries.size > this.maxEntries || this.chars > this.maxChars) this.evictLeastRecent()
    return value
  }

  /** Drops the least recently used entry: a scan of at most maxEntries, on a miss past a bound only. */
  private evictLeastRecent(): void {
    let oldest: string | undefined
    let least = Infinity
    for (const [key, entry] of this.entries)
      if (entry.used < least) {
        least = entry.used
        oldest = key
      }
    // never the entry just added (its tick is the latest; alone it fits maxChars)
    this.entries.delete(oldest!)
    this.chars -= oldest!.length
  }

  /** How many texts are kept, and their total length. */
  get stats(): { entries: number; chars: number } {
    return { entries: this.entries.size, chars: this.chars }
  }
}

/**
 * Freezes `value` and every object reachable from it; returns it. For parsed values (JSON.parse,
 * zod): trees of plain objects and arrays. An object already frozen is taken as frozen through
 * (so a shared subtree is walked once); a Date's time is an internal slot freezing does not reach.
 */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}
