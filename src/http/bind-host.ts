import { isIP } from 'node:net'

/** Where the HTTP API listens unless `--http-host` says otherwise. */
export const DEFAULT_HTTP_HOST = '127.0.0.1'
/** Fewest characters of an API token an operator gives (a made one has 43). */
export const MIN_TOKEN_LENGTH = 32

/** True when `host` is a loopback address or name: only this machine reaches it. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[(.*)\]$/, '$1').toLowerCase()
  return h === 'localhost' || h === '::1' || (isIP(h) === 4 && h.startsWith('127.'))
}

/**
 * Checks where the API is to listen and with which token: a loopback address needs nothing; any
 * other address serves the network, so it needs a token the operator chose (`--http-token-file`),
 * and it must name one interface (a request's Host header must name the address it was bound to,
 * which a wildcard is not).
 * @throws Error naming the flag and what to do.
 */
export function checkBindHost(host: string, token: string | undefined): void {
  const bare = host.replace(/^\[(.*)\]$/, '$1')
  if (isIP(bare) === 0 && bare !== 'localhost') {
    throw new Error(
      `--http-host "${host}" is not an IP address: name the address of one interface, e.g. 10.0.0.5`,
    )
  }
  if (bare === '0.0.0.0' || bare === '::') {
    throw new Error(
      `--http-host ${host} binds every interface: name the address of one (requests must name it in their Host header)`,
    )
  }
  if (isLoopbackHost(bare)) return
  if (token === undefined) {
    throw new Error(
      `--http-host ${host} serves the API beyond this machine: give it a token with --http-token-file <file> (at least ${MIN_TOKEN_LENGTH} characters, e.g. made by "openssl rand -hex 32")`,
    )
  }
}

/**
 * Checks a token read from `--http-token-file`: at least {@link MIN_TOKEN_LENGTH} characters, no
 * white space (surrounding white space and a final newline are dropped).
 * @throws Error naming the flag and the file.
 */
export function parseTokenFile(text: string, file: string): string {
  const token = text.trim()
  if (token.length < MIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(
      `--http-token-file ${file}: the token must be at least ${MIN_TOKEN_LENGTH} characters with no white space (e.g. made by "openssl rand -hex 32")`,
    )
  }
  return token
}
