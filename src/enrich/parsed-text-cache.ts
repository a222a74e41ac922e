/**
 * A bounded map from an exact input text to what was parsed from it. The key is the whole text,
 * so a hit is the parse of that very text and can never be stale: an input that changed in any
 * byte is another key, parsed afresh. `parse` must depend on nothing but the text.
 *
 * Bounded twice, since each key is held: by entries and by the keys' total length (UTF-16 code
 * units); the least recently used go first. A text longer than `maxChars` is parsed and not kept.
 */
export class ParsedTextCache<V extends object> {
  private readonly entries = new Map<string, V>()
  private chars = 0

  constructor(
    readonly maxEntries: number,
    readonly maxChars: number,
  ) {}

  /** The parse of `text`: the kept one, else `parse(text)` (kept when it fits the bounds). */
  get(text: string, parse: (text: string) => V): V {
    const hit = this.entries.get(text)
    if (hit) {
      // most recently used last, so eviction takes from the front
      this.entries.delete(text)
      this.entries.set(text, hit)
      return hit
    }
    const value = parse(text)
    if (text.length > this.maxChars) return value
    this.entries.set(text, value)
    this.chars += text.length
    for (const key of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) break
      this.entries.delete(key)
      this.chars -= key.length
    }
    return value
  }

  /** How many texts are kept, and their total length. */
  get stats(): { entries: number; chars: number } {
    return { entries: this.entries.size, chars: this.chars }
  }
}
