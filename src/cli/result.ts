import { openTarget, type TargetOptions } from './target.ts'

/** `taskmesh result <id>`: prints the record as JSON; exits 3 when there is none (yet). */
export async function runResult(
  id: string,
  flags: TargetOptions & { wait: boolean; waitMs: number },
): Promise<void> {
  const target = await openTarget(flags)
  try {
    const record = await target.result(id, flags.wait ? flags.waitMs : 0)
    if (record === undefined) {
      console.error(`no result for ${id} yet`)
      process.exitCode = 3
      return
    }
    console.log(JSON.stringify(record, null, 2))
  } finally {
    await target.close()
  }
}

/** `taskmesh status`: prints the node's status as JSON. */
export async function runStatus(flags: TargetOptions): Promise<void> {
  const target = await openTarget(flags)
  try {
    console.log(JSON.stringify(await target.status(), null, 2))
  } finally {
    await target.close()
  }
}
