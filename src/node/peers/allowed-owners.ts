/**
 * Whose tasks a node takes into its hands. Without an allow-list, anyone's. With one
 * (`allowSubmitters`), the list names every peer whose tasks the node will take — the light
 * clients that submit to it and the nodes whose tasks it runs — so it steals from, remembers the
 * announcements of, and adopts the tasks of only the listed peers and itself. A peer refused at
 * `submit` gets no further by owning the tasks itself and announcing them.
 */
export function ownerFilter(
  self: string,
  allowList: readonly string[] | undefined,
): (owner: string) => boolean {
  if (allowList === undefined) return () => true
  const allowed = new Set(allowList)
  return (owner) => owner === self || allowed.has(owner)
}
