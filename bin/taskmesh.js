#!/usr/bin/env node
// The `taskmesh` command: the compiled JavaScript in dist/ (`npm run build`), no TypeScript loader.
// In a checkout, `npm run taskmesh -- <args>` runs the TypeScript sources instead.
try {
  await import('../dist/src/polyfill.js')
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('polyfill.js')) throw error
  console.error(
    'taskmesh: dist/ is missing: run `npm run build` (or `npm run taskmesh -- <args>` for the sources)',
  )
  process.exit(1)
}
await import('../dist/src/cli/main.js')
