import { KiB, MiB, second } from '../task/limits.ts'

/** First segment of every taskmesh protocol id and topic. */
export const PROTOCOL_PREFIX = 'taskmesh'

/** Gossipsub topic of result notices of every record (see `ResultNotice`); subscribed on demand. */
export const RESULTS_TOPIC = `${PROTOCOL_PREFIX}/results/1`
/** Gossipsub topic of the notices of contested records (that may lose to another run); every node subscribes. */
export const CONTESTED_TOPIC = `${PROTOCOL_PREFIX}/contested/1`

/** Stream protocol between full nodes: steal, renew, complete, release. */
export const STEAL_PROTOCOL = `/${PROTOCOL_PREFIX}/steal/1.0.0`
/** The steal protocol in which an owner may also offer queued tasks to an idle peer (`offer`). */
export const STEAL_PROTOCOL_1_1 = `/${PROTOCOL_PREFIX}/steal/1.1.0`
/** Stream protocol for light clients: submit, result, watch, status. */
export const SUBMIT_PROTOCOL = `/${PROTOCOL_PREFIX}/submit/1.0.0`
/** Stream protocol between full nodes: an executor stores batches of result records at the closest peers. */
export const REPLICATE_PROTOCOL = `/${PROTOCOL_PREFIX}/replicate/2.0.0`
/** Stream protocol between neighbours: each pushes its capacity beacons to the other. */
export const BEACON_PROTOCOL = `/${PROTOCOL_PREFIX}/beacon/1.0.0`
/** The beacon protocol whose beacons also name the handler types of the stealable queued tasks. */
export const BEACON_PROTOCOL_1_1 = `/${PROTOCOL_PREFIX}/beacon/1.1.0`
/** Stream protocol between full nodes: which of many tasks have a result record stored at the peer. */
export const FETCH_PROTOCOL = `/${PROTOCOL_PREFIX}/fetch/1.0.0`
/** Stream protocol between an owner and its custodians: the specs of its open tasks, for adoption. */
export const CUSTODY_PROTOCOL = `/${PROTOCOL_PREFIX}/custody/1.0.0`
/** kad-dht protocol id of the mesh's own DHT (not the public IPFS one). */
export const DHT_PROTOCOL = `/${PROTOCOL_PREFIX}/kad/1.0.0`

/** First path segment of result keys: `/taskmesh-result/<taskId>`; kad-dht keys validators by it. */
export const RESULT_KEY_PREFIX = 'taskmesh-result'

/** Largest capacity beacon, in bytes. */
export const MAX_BEACON_BYTES = 16 * KiB
/** Most custodians one owner names in a `hold` frame. */
export const MAX_CUSTODIANS = 4
/** Custodians an owner hands its open tasks to by default (5.2). */
export const DEFAULT_CUSTODIANS = 2
/** Most handler types a beacon names as queued (a node with more queued types names none). */
export const MAX_QUEUED_TYPES = 16
/** Most loaded peers one beacon names (its hot list). */
export const MAX_HOT_PEERS = 3
/** Most addresses of one hot peer. */
export const MAX_HOT_ADDRS = 4
/** Longest multiaddr string accepted on the wire, in characters. */
export const MAX_MULTIADDR_CHARS = 256
/** Largest signed result record value stored in the DHT, in bytes. */
export const MAX_RECORD_BYTES = 512 * KiB
/** Length in characters of the padded base64 of a `MAX_RECORD_BYTES` record (4 chars per 3 bytes). */
export const MAX_RECORD_BASE64_CHARS = Math.ceil(MAX_RECORD_BYTES / 3) * 4
/** Most results one notice lists (an executor batches the results it stores close together). */
export const MAX_NOTICES_PER_MESSAGE = 500
/** Largest result notice, in bytes (500 entries of id, status and epoch fit with room to spare). */
export const MAX_NOTICE_BYTES = 128 * KiB
/** Largest steal- or submit-protocol frame, in bytes (the length prefix not counted). */
export const MAX_FRAME_BYTES = 4 * MiB
/**
 * Bytes of items a sender that splits its work into frames (copies, custody holds) puts in one
 * frame. A frame's text over 128 KiB is a large V8 object, made in memory mapped for it and written
 * page by page: its UTF-8 decode costs ~40× as much per byte as a smaller frame's, decode and
 * `JSON.parse` together ~3× (`npx tsx scripts/frame-size.ts`); this keeps a full frame under it.
 */
export const FRAME_BUDGET_BYTES = 96 * KiB
/** Deadline of one request/response exchange when the caller gives no signal, in ms. */
export const DEFAULT_RPC_TIMEOUT_MS = 10 * second

/** Deepest nesting of arrays and objects accepted in any wire JSON value. */
export { MAX_JSON_DEPTH } from '../task/json-shape.ts'
/** Latest timestamp accepted on the wire, in Unix ms (the largest valid `Date`). */
export const MAX_TIMESTAMP_MS = 8_640_000_000_000_000
/** Longest peer id or client name string, in characters. */
export const MAX_PEER_ID_CHARS = 256
/** Longest request id, in characters. */
export const MAX_REQUEST_ID_CHARS = 128
/** Longest task id string, in characters (CIDv1 base32 of a sha2-256 is 59). */
export const MAX_TASK_ID_CHARS = 128
/** Longest nonce, in characters. */
export const MAX_NONCE_CHARS = 128
/** Longest error text in a record, attempt or error reply, in characters. */
export const MAX_ERROR_CHARS = 16 * KiB
/** Most records in one replicate-protocol `store` frame. */
export const MAX_RECORDS_PER_STORE = 1000
/** Most tasks in one announcement or steal grant. */
export const MAX_TASKS_PER_MESSAGE = 1000
/** Most leases named in one grant, renew or release. */
export const MAX_LEASES_PER_MESSAGE = 1000
/** Longest stack trace kept of an attempt's error, in characters (the top of it). */
export const MAX_STACK_CHARS = 4 * KiB
/** Most attempts listed in one result record. */
export const MAX_RECORD_ATTEMPTS = 1000
/** Most handler types a node may advertise. */
export const MAX_HANDLER_TYPES = 256
/** Most execution slots a node may advertise. */
export const MAX_NODE_SLOTS = 4096
/** Peers a node copies each result record it made to by default, besides its own copy (9.6). */
export const DEFAULT_RECORD_COPIES = 3
/**
 * Most peers a node may copy a record to: a Kademlia lookup asks the 20 peers closest to a key,
 * so copies beyond them are never read.
 */
export const MAX_RECORD_COPIES = 20
/** Most queued tasks a node may report. */
export const MAX_QUEUED_TASKS = 10_000_000
/** Most memory a node may advertise, in MiB (16 TiB). */
export const MAX_MEMORY_MB = 16 * 1024 * 1024
/** Largest duration on the wire (queued work, expected wait, TTLs, waits), in ms: about 317 years. */
export const MAX_DURATION_MS = 10_000_000_000_000
/** Largest relative speed a node may report (1 = nominal). */
export const MAX_SPEED = 1_000_000
/** Most task ids one watch request may name. */
export const MAX_WATCH_TASKS = 10_000
