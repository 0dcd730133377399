// Handlers only some daemons of the side-by-side benchmark load: a task of type `remote-noop`
// submitted at a daemon without it must be stolen by one that has it (one steal hop).
export default {
  'remote-noop': { mode: 'inline', run: () => null },
}
