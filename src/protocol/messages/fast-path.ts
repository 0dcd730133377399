import { z } from 'zod'
import { issueMessage } from '../../task/spec.ts'

/** The hand-written check of each schema made by {@link withFastPath}. */
const fastChecks = new WeakMap<z.ZodType, (value: unknown) => boolean>()

/**
 * A schema that accepts what `schema` accepts, asking `isWellFormed` first: an exact-or-stricter
 * hand-written check (true only for values the schema accepts as they are), so the schema runs —
 * and reports its issues, unchanged — only for a value that check refuses. Wire messages every
 * node decodes per task go through one; the schema's refinements cost many times the check.
 * `parseMessage` asks the check itself before it enters zod at all (see {@link fastCheckOf}).
 */
export function withFastPath<T>(isWellFormed: (value: unknown) => value is T, schema: z.ZodType<T>) {
  const fast = z.unknown().transform((value, ctx): T => {
    if (isWellFormed(value)) return value
    const parsed = schema.safeParse(value)
    if (parsed.success) return parsed.data
    for (const issue of parsed.error.issues) {
      // re-emitted as custom issues: their messages say the value now, as the schema's would
      ctx.addIssue({ code: 'custom', message: issueMessage(issue, value), path: issue.path })
    }
    return z.NEVER
  })
  fastChecks.set(fast, isWellFormed)
  return fast
}

/**
 * The hand-written check of a schema made by {@link withFastPath}: a value it passes is the
 * schema's output as it is (no copy made); undefined for any other schema.
 */
export function fastCheckOf(schema: z.ZodType): ((value: unknown) => boolean) | undefined {
  return fastChecks.get(schema)
}
