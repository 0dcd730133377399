/** One taskmesh side of a comparison: the flags its daemons get, and the label its figures carry. */
export interface Variant {
  label: string
  flags: string[]
}

/**
 * The taskmesh sides to run against the one BullMQ run. With `--variants "<flags>; <flags>…"`, one
 * per entry (an empty entry: the daemons' defaults), each labelled by its flags (without their
 * dashes: the label names the daemons and their folders), every one with
 * `extra` (`--daemon-flags`) too. Without it, one per `--durability` setting when the daemon offers
 * the flag (`sync`, `os`) and `extra` does not choose one; else one with `extra` alone.
 */
export function variantsOf(extra: string[], given: string | undefined, hasDurability: boolean): Variant[] {
  if (given !== undefined) {
    return given.split(';').map((entry) => {
      const flags = entry
        .trim()
        .split(/\s+/)
        .filter((f) => f !== '')
      const label = flags.length === 0 ? 'defaults' : flags.map((f) => f.replace(/^--/, '')).join(' ')
      return { label, flags: [...extra, ...flags] }
    })
  }
  if (extra.includes('--durability') || !hasDurability) return [{ label: 'taskmesh', flags: extra }]
  return ['sync', 'os'].map((d) => ({ label: `durability-${d}`, flags: [...extra, '--durability', d] }))
}
