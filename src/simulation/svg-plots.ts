/**
 * Small SVG plots written as strings (no browser, no library): a timeline of bars per row and
 * line plots with axes. Each `<svg>` names its plot (`data-plot`) and each row or series its node
 * (`data-node`), so a reader — or a test — can find them.
 */

/** One line of a line plot. */
export interface Series {
  name: string
  points: Array<[number, number]>
  color?: string
  /** Index of the node the series belongs to (written as `data-node`). */
  node?: number
  dashed?: boolean
}

/** Frame of a plot: size, title, axis labels and ranges. */
export interface PlotFrame {
  id: string
  title: string
  xLabel: string
  yLabel: string
  xMax: number
  yMax: number
  width?: number
  height?: number
}

const MARGIN = { left: 56, right: 16, top: 28, bottom: 40 }

/** Escapes text for XML. */
export function esc(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** A colour per index, spread around the hue circle. */
export function hue(i: number, of: number): string {
  return `hsl(${Math.round((i * 360) / Math.max(1, of))} 65% 45%)`
}

const fmt = (v: number) => (Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString())

/** Opens an `<svg>` with its title, axes and ticks; returns it and the data-to-pixel mappings. */
function frame(f: PlotFrame, extraAttrs = '', yTicks = true) {
  const width = f.width ?? 900
  const height = f.height ?? 280
  const w = width - MARGIN.left - MARGIN.right
  const h = height - MARGIN.top - MARGIN.bottom
  const xMax = f.xMax > 0 ? f.xMax : 1
  const yMax = f.yMax > 0 ? f.yMax : 1
  const x = (v: number) => MARGIN.left + (v / xMax) * w
  const y = (v: number) => MARGIN.top + h - (v / yMax) * h
  const ticks: string[] = []
  for (let i = 0; i <= 5; i++) {
    const xv = (xMax * i) / 5
    const yv = (yMax * i) / 5
    ticks.push(
      `<text x="${x(xv).toFixed(1)}" y="${MARGIN.top + h + 16}" text-anchor="middle">${fmt(xv)}</text>`,
    )
    if (!yTicks) continue
    ticks.push(
      `<text x="${MARGIN.left - 6}" y="${(y(yv) + 4).toFixed(1)}" text-anchor="end">${fmt(yv)}</text>`,
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${y(yv).toFixed(1)}" y2="${y(yv).toFixed(1)}" stroke="#eee"/>`,
    )
  }
  const open = [
    `<svg xmlns="http://www.w3.org/2000/svg" data-plot="${esc(f.id)}" ${extraAttrs} width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${esc(f.title)}</title>`,
    `<text x="${MARGIN.left}" y="16" font-size="13" font-weight="bold">${esc(f.title)}</text>`,
    ...ticks,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left}" y1="${MARGIN.top}" y2="${MARGIN.top + h}" stroke="#333"/>`,
    `<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${MARGIN.top + h}" y2="${MARGIN.top + h}" stroke="#333"/>`,
    `<text x="${MARGIN.left + w / 2}" y="${height - 6}" text-anchor="middle">${esc(f.xLabel)}</text>`,
    `<text transform="translate(12 ${MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle">${esc(f.yLabel)}</text>`,
  ]
  return { open: open.join('\n'), x, y, w, h }
}

/** Bars on rows: `rows[i]` holds row i's spans `[start, end]` (a per-node timeline of runs). */
export function timelinePlot(f: Omit<PlotFrame, 'yMax'>, rows: Array<Array<[number, number]>>): string {
  const rowHeight = Math.max(2, Math.min(14, Math.floor(400 / Math.max(1, rows.length))))
  const height = MARGIN.top + MARGIN.bottom + rowHeight * rows.length
  const { open, x } = frame({ ...f, yMax: rows.length, height }, `data-rows="${rows.length}"`, false)
  const parts = [open]
  rows.forEach((spans, i) => {
    const top = MARGIN.top + i * rowHeight
    if (rowHeight >= 10) {
      parts.push(`<text x="${MARGIN.left - 6}" y="${top + rowHeight - 2}" text-anchor="end">${i}</text>`)
    }
    const bars = spans.map(
      ([s, e]) =>
        `<rect x="${x(s).toFixed(1)}" y="${top}" width="${Math.max(0.5, x(e) - x(s)).toFixed(1)}" height="${Math.max(1, rowHeight - 1)}"/>`,
    )
    parts.push(`<g data-node="${i}" fill="${hue(i, rows.length)}">${bars.join('')}</g>`)
  })
  parts.push('</svg>')
  return parts.join('\n')
}

/** Lines with a legend (the legend is left out beyond 12 series). */
export function linePlot(f: PlotFrame, series: Series[]): string {
  const { open, x, y } = frame(f, `data-series="${series.length}"`)
  const parts = [open]
  series.forEach((s, i) => {
    const color = s.color ?? hue(i, series.length)
    const points = s.points.map(([px, py]) => `${x(px).toFixed(1)},${y(py).toFixed(1)}`).join(' ')
    const node = s.node === undefined ? '' : ` data-node="${s.node}"`
    const dash = s.dashed === true ? ' stroke-dasharray="6 4"' : ''
    parts.push(
      `<polyline${node} fill="none" stroke="${color}" stroke-width="1.5"${dash} points="${points}"><title>${esc(s.name)}</title></polyline>`,
    )
    if (series.length <= 12) {
      const ly = MARGIN.top + 4 + i * 14
      const lx = (f.width ?? 900) - MARGIN.right - 180
      parts.push(
        `<line x1="${lx}" x2="${lx + 18}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
        `<text x="${lx + 24}" y="${ly + 4}">${esc(s.name)}</text>`,
      )
    }
  })
  parts.push('</svg>')
  return parts.join('\n')
}
