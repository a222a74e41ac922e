import { describe, expect, it } from 'vitest'
import { escapeXml, lineChart, niceTicks } from '../bench/charts.js'
import { cpuTrace, replay, seedTable, summarize, type Step } from '../bench/controller.bench.js'
import { burstRate } from '../bench/types.js'

/** Tag balance of the chart's SVG (the charts use no CDATA or comments): catches broken markup. */
function assertBalanced(svg: string): void {
  const stack: string[] = []
  for (const m of svg.matchAll(/<(\/?)([a-z]+)[^>]*?(\/?)>/g)) {
    const [, close, name, selfClose] = m
    if (selfClose) continue
    if (close) expect(stack.pop(), `closing </${name}>`).toBe(name)
    else stack.push(name!)
  }
  expect(stack).toEqual([])
}

describe('bench charts', () => {
  it('niceTicks gives round steps covering the range', () => {
    expect(niceTicks(0, 100, 5)).toEqual([0, 20, 40, 60, 80, 100])
    expect(niceTicks(0, 25, 5)).toEqual([0, 5, 10, 15, 20, 25])
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.25, 0.5, 0.75, 1])
    expect(niceTicks(3, 3)).toEqual([3, 3.2, 3.4, 3.6, 3.8, 4]) // empty range widened, not a division by zero
  })

  it('escapes text so titles and names cannot break the markup', () => {
    expect(escapeXml(`a<b & "c" 'd'>`)).toBe('a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;')
    const svg = lineChart({
      title: 'limit < 25 & more',
      xLabel: 'x',
      panels: [{ yLabel: 'y', series: [{ name: 'a<b', points: [[0, 1]] }] }],
    })
    expect(svg).toContain('limit &lt; 25 &amp; more')
    expect(svg).not.toContain('a<b')
    assertBalanced(svg)
  })

  it('maps data to the plot area: first x at the left edge, last at the right, y=0 on the axis', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'x',
      width: 600,
      height: 300,
      panels: [
        {
          yLabel: 'y',
          yMin: 0,
          yMax: 10,
          series: [
            {
              name: 's',
              points: [
                [0, 0],
                [5, 10],
                [10, 5],
              ],
            },
          ],
        },
      ],
    })
    // margins: left 70, right 20, top 44, bottom 48 → plot x 70..580, y 44..252
    expect(svg).toContain('points="70,252 325,44 580,148"')
    assertBalanced(svg)
  })

  it('draws a step series as horizontal holds then vertical jumps', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'x',
      width: 600,
      height: 300,
      panels: [
        {
          yLabel: 'y',
          yMin: 0,
          yMax: 10,
          series: [
            {
              name: 'limit',
              step: true,
              points: [
                [0, 10],
                [10, 0],
              ],
            },
          ],
        },
      ],
    })
    expect(svg).toContain('points="70,44 580,44 580,252"')
  })

  it('stacks panels with their own y axes and labels the x axis once', () => {
    const svg = lineChart({
      title: 't',
      xLabel: 'minutes',
      panels: [
        {
          yLabel: 'CPS limit',
          series: [
            {
              name: 'limit',
              points: [
                [0, 100],
                [1, 50],
              ],
            },
          ],
        },
        {
          yLabel: 'CPU %',
          series: [
            {
              name: 'cpu',
              points: [
                [0, 40],
                [1, 90],
              ],
            },
          ],
        },
      ],
    })
    expect(svg).toContain('CPS limit')
    expect(svg).toContain('CPU %')
    expect(svg.match(/>minutes</g)).toHaveLength(1)
    expect(svg.match(/<polyline/g)).toHaveLength(2)
    assertBalanced(svg)
  })

  it('is deterministic', () => {
    const spec = {
      title: 't',
      xLabel: 'x',
      panels: [
        {
          yLabel: 'y',
          series: [
            {
              name: 's',
              points: [
                [0, 1],
                [2, 3],
              ] as Array<[number, number]>,
            },
          ],
        },
      ],
    }
    expect(lineChart(spec)).toBe(lineChart(spec))
  })
})

describe('controller bench trace', () => {
  it('is reproducible per seed and covers the phases in order', () => {
    expect(cpuTrace(3)).toEqual(cpuTrace(3))
    expect(cpuTrace(3)).not.toEqual(cpuTrace(4))
    const trace = cpuTrace(1)
    expect(trace).toHaveLength(120)
    const phases = [...new Set(trace.map((p) => p.phase))]
    expect(phases).toEqual(['calm', 'ramp', 'hot', 'noisy ~70%', 'recovery'])
    expect(Math.max(...trace.filter((p) => p.phase === 'hot').map((p) => p.cpu))).toBeGreaterThan(85)
    for (const p of trace) expect(p.cpu).toBeGreaterThanOrEqual(0)
  })

  it('seedTable is the seed table', () => {
    expect([30, 69.9, 70, 84.9, 85, 99].map((c) => seedTable(c))).toEqual([100, 100, 50, 50, 25, 25])
  })

  it('the controller is never above the table and changes less often on every seed', () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const steps = replay(cpuTrace(seed))
      for (const s of steps) expect(s.limit, `seed ${seed} t=${s.t}`).toBeLessThanOrEqual(s.table)
      const sum = summarize(steps)
      expect(sum.aboveTable).toBe(0)
      expect(sum.changes).toBeLessThan(sum.tableChanges)
    }
  })

  it('summarize counts changes from the starting limit and reversals within 5 minutes', () => {
    const step = (t: number, limit: number, table: number): Step => ({
      t,
      cpu: 50,
      phase: 'x',
      limit,
      table,
      action: 'hold',
      reason: '',
    })
    const s = summarize([step(0, 50, 50), step(30, 50, 100), step(60, 100, 50), step(600, 50, 50)])
    // ours: 100 → 50 (t=0), 50 → 100 (t=60, reversal), 100 → 50 (t=600, not within 5 min)
    expect(s.changes).toBe(3)
    expect(s.reversals).toBe(1)
    // table: 100 → 50, → 100, → 50, (t=600 same): 3 changes, 2 reversals
    expect(s.tableChanges).toBe(3)
    expect(s.tableReversals).toBe(2)
    expect(s.aboveTable).toBe(1) // t=60: 100 > 50
    expect(s.meanLimit).toBe(62.5)
  })
})

describe('bench:doc', () => {
  it('puts a report under Results: headings one level down, chart links renamed, markers kept', async () => {
    const { reportForDoc, replaceResults } = await import('../bench/doc.js')
    const report =
      '# dialctl benchmark report\n\nMachine: x.\n\n## Summary\n\n- a\n\n## Pipeline\n\n![c](cps.svg)\n'
    const part = reportForDoc(report, (f) => `bench-${f}`)
    expect(part).toBe('Machine: x.\n\n### Summary\n\n- a\n\n### Pipeline\n\n![c](bench-cps.svg)')
    const doc =
      '# Doc\n\n## Results\n\n<!-- bench-results:start -->\nold figures\n<!-- bench-results:end -->\n'
    expect(replaceResults(doc, part)).toBe(
      `# Doc\n\n## Results\n\n<!-- bench-results:start -->\n\n${part}\n\n<!-- bench-results:end -->\n`,
    )
    expect(() => replaceResults('# Doc without markers', part)).toThrow(/markers/)
  })
})

describe('burstRate', () => {
  it('times the steady rate to the 95th percentile outcome and reports a held last batch as the tail', () => {
    // 100 tasks ending 10 ms apart from 10 ms after the start, the last 3 held 1 s by a batch window
    const ended = Array.from({ length: 100 }, (_, i) => 1_000 + (i + 1) * 10 + (i >= 97 ? 1_000 : 0))
    const r = burstRate([...ended].reverse(), 1_000)
    expect(r.steady).toBeCloseTo(95 / 0.95, 6) // the 95th outcome at +950 ms
    expect(r.endToEnd).toBeCloseTo(100 / 2.0, 6) // the last at +2000 ms
    expect(r.tailMs).toBe(1_050)
  })

  it('counts every task of a small burst: the 95th percentile of 10 is the 10th', () => {
    const r = burstRate([110, 120, 130, 140, 150, 160, 170, 180, 190, 200], 100)
    expect(r.steady).toBe(r.endToEnd)
    expect(r.tailMs).toBe(0)
  })

  it('refuses a burst where no task ended', () => {
    expect(() => burstRate([], 0)).toThrow(/no task ended/)
  })
})
