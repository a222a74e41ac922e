import { describe, expect, it, vi } from 'vitest'
import { ParsedTextCache } from '../../src/parsed-text-cache.js'

describe('ParsedTextCache', () => {
  it('parses a text once, and a text that differs in any character again', () => {
    const cache = new ParsedTextCache<{ n: number }>(10, 1000)
    const parse = vi.fn((text: string) => ({ n: text.length }))
    const first = cache.get('{"a":1}', parse)
    expect(cache.get('{"a":1}', parse)).toBe(first)
    expect(parse).toHaveBeenCalledTimes(1)
    expect(cache.get('{"a":2}', parse)).not.toBe(first)
    expect(parse).toHaveBeenCalledTimes(2)
  })

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new ParsedTextCache<{ text: string }>(2, 1000)
    const parse = vi.fn((text: string) => ({ text }))
    cache.get('a', parse)
    cache.get('b', parse)
    cache.get('a', parse) // a is now the most recent
    cache.get('c', parse) // b goes
    expect(cache.stats).toEqual({ entries: 2, chars: 2 })
    parse.mockClear()
    cache.get('a', parse)
    cache.get('c', parse)
    expect(parse).not.toHaveBeenCalled()
    cache.get('b', parse)
    expect(parse).toHaveBeenCalledTimes(1)
  })

  it('keeps at most maxChars of key text; a longer text is parsed and not kept', () => {
    const cache = new ParsedTextCache<{ text: string }>(100, 10)
    const parse = vi.fn((text: string) => ({ text }))
    cache.get('aaaa', parse)
    cache.get('bbbb', parse)
    cache.get('cccc', parse) // 12 characters: aaaa goes
    expect(cache.stats).toEqual({ entries: 2, chars: 8 })
    expect(cache.get('x'.repeat(11), parse)).toEqual({ text: 'x'.repeat(11) })
    expect(cache.stats).toEqual({ entries: 2, chars: 8 })
  })

  it('deep-freezes what it keeps: one parse is shared by every caller', () => {
    const cache = new ParsedTextCache<{ list: Array<{ n: number }> }>(10, 1000)
    const value = cache.get('[1]', (text) => ({ list: [{ n: text.length }] }))
    expect(Object.isFrozen(value) && Object.isFrozen(value.list) && Object.isFrozen(value.list[0])).toBe(true)
    expect(() => value.list.push({ n: 0 })).toThrow(TypeError)
    // a text too long to keep is frozen all the same: callers cannot tell a kept parse from another
    expect(Object.isFrozen(new ParsedTextCache<{ a: number[] }>(10, 1).get('12', () => ({ a: [1] })).a)).toBe(
      true,
    )
  })
})
