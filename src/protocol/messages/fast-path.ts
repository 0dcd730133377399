import { z } from 'zod'

/**
 * A schema that accepts what `schema` accepts, asking `isWellFormed` first: an exact-or-stricter
 * hand-written check (true only for values the schema accepts as they are), so the schema runs —
 * and reports its issues, unchanged — only for a value that check refuses. Wire messages every
 * node decodes per task go through one; the schema's refinements cost many times the check.
 */
export function withFastPath<T>(isWellFormed: (value: unknown) => value is T, schema: z.ZodType<T>) {
  return z.unknown().transform((value, ctx): T => {
    if (isWellFormed(value)) return value
    const parsed = schema.safeParse(value)
    if (parsed.success) return parsed.data
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path })
    }
    return z.NEVER
  })
}
