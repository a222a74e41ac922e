/**
 * Small dependency-free SVG line charts for the benchmark report: one or more panels stacked on a
 * shared x axis, each with its own y axis, ticks, labels, a legend and any number of series.
 * Limits are step functions (they hold until changed), so a series can be drawn as steps.
 */

export interface Series {
  name: string
  /** [x, y] in data units; drawn in x order as given */
  points: Array<[number, number]>
  color?: string
  /** hold each value until the next point (a limit), instead of a straight line between points */
  step?: boolean
  dashed?: boolean
  /** draw a dot at every point (sparse measured values) */
  dots?: boolean
  /** line width (default 2): a wide pale line under a thin one keeps both visible where they agree */
  width?: number
}

export interface Panel {
  yLabel: string
  series: Series[]
  /** fixed y range; default from the data, starting at 0 */
  yMin?: number
  yMax?: number
  /** relative height of this panel (default 1) */
  weight?: number
}

export interface ChartSpec {
  title: string
  xLabel: string
  panels: Panel[]
  width?: number
  height?: number
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b']
const FONT = 'font-family="Helvetica, Arial, sans-serif"'

export function escapeXml(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!,
  )
}

/** About `count` round tick values (1, 2, 2.5, 5 × 10^k steps) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [0]
  if (max <= min) max = min + 1
  const raw = (max - min) / Math.max(1, count)
  const mag = 10 ** Math.floor(Math.log10(raw))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag
  const first = Math.ceil(min / step - 1e-9) * step
  const ticks: number[] = []
  for (let v = first; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)))
  return ticks
}

function niceMax(max: number): number {
  const ticks = niceTicks(0, max)
  const last = ticks[ticks.length - 1]!
  return last >= max ? last : last + (ticks[1]! - ticks[0]!)
}

const num = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(2).replace(/\.?0+$/, ''))
const r1 = (v: number) => Math.round(v * 10) / 10

/** The SVG document of a chart. Deterministic: the same spec gives the same bytes. */
export function lineChart(spec: ChartSpec): string {
  const width = spec.width ?? 800
  const height = spec.height ?? 220 + 180 * spec.panels.length
  const margin = { left: 70, right: 20, top: 44, bottom: 48 }
  const gap = 46 // between panels: room for the next panel's legend
  const allX = spec.panels.flatMap((p) => p.series.flatMap((s) => s.points.map(([x]) => x)))
  const xMin = allX.length ? Math.min(...allX) : 0
  const xMaxRaw = allX.length ? Math.max(...allX) : 1
  const xMax = xMaxRaw > xMin ? xMaxRaw : xMin + 1
  const plotW = width - margin.left - margin.right
  const totalWeight = spec.panels.reduce((s, p) => s + (p.weight ?? 1), 0)
  const available = height - margin.top - margin.bottom - gap * (spec.panels.length - 1)
  const sx = (x: number) => r1(margin.left + ((x - xMin) / (xMax - xMin)) * plotW)

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" ${FONT} font-size="16" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ]
  let top = margin.top
  let colorIndex = 0
  spec.panels.forEach((panel, pi) => {
    const h = (available * (panel.weight ?? 1)) / totalWeight
    const ys = panel.series.flatMap((s) => s.points.map(([, y]) => y)).filter(Number.isFinite)
    const yMin = panel.yMin ?? Math.min(0, ...ys)
    const yMax = panel.yMax ?? niceMax(Math.max(yMin + 1, ...ys))
    const sy = (y: number) => r1(top + h - ((y - yMin) / (yMax - yMin || 1)) * h)
    const bottom = top + h

    // grid and y ticks
    for (const t of niceTicks(yMin, yMax, Math.max(2, Math.round(h / 40)))) {
      const y = sy(t)
      out.push(
        `<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`,
        `<text x="${margin.left - 6}" y="${r1(y + 4)}" text-anchor="end" ${FONT} font-size="11" fill="#444">${num(t)}</text>`,
      )
    }
    // axes
    out.push(
      `<line x1="${margin.left}" y1="${r1(top)}" x2="${margin.left}" y2="${r1(bottom)}" stroke="#333"/>`,
      `<line x1="${margin.left}" y1="${r1(bottom)}" x2="${margin.left + plotW}" y2="${r1(bottom)}" stroke="#333"/>`,
      `<text transform="translate(16 ${r1(top + h / 2)}) rotate(-90)" text-anchor="middle" ${FONT} font-size="12" fill="#222">${escapeXml(panel.yLabel)}</text>`,
    )
    // x ticks on every panel; the axis label only under the last one
    for (const t of niceTicks(xMin, xMax, Math.max(2, Math.round(plotW / 80)))) {
      const x = sx(t)
      out.push(
        `<line x1="${x}" y1="${r1(bottom)}" x2="${x}" y2="${r1(bottom + 4)}" stroke="#333"/>`,
        `<text x="${x}" y="${r1(bottom + 16)}" text-anchor="middle" ${FONT} font-size="11" fill="#444">${num(t)}</text>`,
      )
    }
    if (pi === spec.panels.length - 1)
      out.push(
        `<text x="${margin.left + plotW / 2}" y="${r1(bottom + 36)}" text-anchor="middle" ${FONT} font-size="12" fill="#222">${escapeXml(spec.xLabel)}</text>`,
      )

    // series
    const legend: string[] = []
    let legendX = margin.left
    for (const s of panel.series) {
      const color = s.color ?? PALETTE[colorIndex++ % PALETTE.length]!
      const pts = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      if (pts.length > 0) {
        const coords: string[] = []
        pts.forEach(([x, y], i) => {
          if (s.step && i > 0) coords.push(`${sx(x)},${sy(pts[i - 1]![1])}`)
          coords.push(`${sx(x)},${sy(y)}`)
        })
        out.push(
          `<polyline fill="none" stroke="${color}" stroke-width="${s.width ?? 2}"${s.dashed ? ' stroke-dasharray="6 4"' : ''} points="${coords.join(' ')}"/>`,
        )
        if (s.dots)
          for (const [x, y] of pts)
            out.push(
              `<circle cx="${sx(x)}" cy="${sy(y)}" r="${Math.max(2.5, (s.width ?? 2) * 0.9)}" fill="${color}"/>`,
            )
      }
      if (!s.name) continue // unnamed: a guide line drawn without a legend entry
      legend.push(
        `<line x1="${legendX}" y1="${r1(top - 10)}" x2="${legendX + 22}" y2="${r1(top - 10)}" stroke="${color}" stroke-width="${s.width ?? 2}"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`,
        `<text x="${legendX + 28}" y="${r1(top - 6)}" ${FONT} font-size="12" fill="#222">${escapeXml(s.name)}</text>`,
      )
      legendX += 40 + 7 * s.name.length
    }
    out.push(...legend)
    top = bottom + gap
  })
  out.push('</svg>')
  return out.join('\n') + '\n'
}
