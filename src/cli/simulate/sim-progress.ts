import { Presets, SingleBar } from 'cli-progress'
import type { SimulationProgress } from '../../simulation/run-simulation.ts'

/** What each phase of a simulation is called on stderr. */
const LABELS: Record<SimulationProgress['phase'], string> = {
  start: 'starting nodes',
  form: 'mesh forming',
  'warm-up': 'warming up',
  idle: 'idle (measuring CPU)',
  submit: 'submitting',
  run: 'results',
  verify: 'DHT check',
}

/** Plain lines at most this often per phase (besides its first and last), ms. */
const LINE_EVERY_MS = 1000

/**
 * Shows a simulation's progress on stderr: a bar per phase on a terminal (cli-progress), plain
 * lines otherwise (a phase's start, at most one a second, and its end) — so a log or a CI run sees
 * how far it got, and stdout keeps only the report.
 */
export function simulationProgress(stream: NodeJS.WriteStream = process.stderr): {
  onProgress: (event: SimulationProgress) => void
  stop: () => void
} {
  const started = performance.now()
  const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)} s`
  let phase: SimulationProgress['phase'] | undefined
  let lastLine = 0
  let bar: SingleBar | undefined
  const onProgress = (e: SimulationProgress) => {
    const fresh = e.phase !== phase
    if (fresh) {
      bar?.stop()
      bar = undefined
      phase = e.phase
      lastLine = 0
    }
    if (stream.isTTY === true) {
      if (bar === undefined) {
        bar = new SingleBar(
          {
            stream,
            format: `${LABELS[e.phase].padEnd(20)} [{bar}] {value}/{total} {percentage}% {duration_formatted}`,
          },
          Presets.shades_classic,
        )
        bar.start(e.total, e.done)
      }
      bar.update(e.done)
      return
    }
    const now = performance.now()
    if (!fresh && e.done < e.total && now - lastLine < LINE_EVERY_MS) return
    lastLine = now
    stream.write(`${LABELS[e.phase]}: ${e.done}/${e.total} (${elapsed()})\n`)
  }
  return { onProgress, stop: () => bar?.stop() }
}
