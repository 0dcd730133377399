#!/usr/bin/env node
// taskmesh runs its TypeScript sources through tsx; no build step is needed.
import { register } from 'tsx/esm/api'

register()
await import('../src/polyfill.ts')
await import('../src/cli/main.ts')
