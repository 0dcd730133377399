// The taskmesh dashboard: polls /status, /mesh and /tasks, listens to /events, draws with uPlot.
// Every value from the node is written with textContent (task types and errors come from submitters).
;(() => {
  /** Seconds of history the chart keeps. */
  const WINDOW_S = 300
  const $ = (id) => document.getElementById(id)

  // The token: the one-time link /?token=… sends the browser on to /#token=… (a fragment never
  // goes to a server). It is kept in sessionStorage — this tab and this origin (port) only; a reload
  // keeps it — and taken out of the address bar and the history. No cookie: cookies ignore ports.
  const TOKEN_KEY = 'taskmesh-token'
  const fragment = new URLSearchParams(location.hash.slice(1))
  if (fragment.has('token')) {
    sessionStorage.setItem(TOKEN_KEY, fragment.get('token'))
    history.replaceState(null, '', `${location.pathname}${location.search}`)
  }
  const token = () => sessionStorage.getItem(TOKEN_KEY) ?? ''

  class Unauthorized extends Error {}

  async function api(path) {
    const headers = { accept: 'application/json' }
    if (token() !== '') headers.authorization = `Bearer ${token()}`
    const res = await fetch(path, { headers, credentials: 'omit' })
    if (res.status === 401) throw new Unauthorized('the API wants its token')
    const body = await res.json()
    if (!res.ok) throw new Error(body.error ?? `HTTP ${res.status}`)
    return body
  }

  const short = (id) => (id.length > 16 ? `${id.slice(0, 8)}…${id.slice(-6)}` : id)
  const clock = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false })
  /** `key=value` pairs of an event's detail; long values (peer ids) cut short when `cut`. */
  const facts = (detail, cut) =>
    Object.entries(detail)
      .map(([k, v]) => `${k}=${cut && typeof v === 'string' && v.length > 24 ? short(v) : v}`)
      .join(' ')
  const ago = (ms) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`)

  /** A table row of cells; a cell is text, or { text, cls, task } (a task id opens its story on click). */
  function row(cells) {
    const tr = document.createElement('tr')
    for (const c of cells) {
      const td = document.createElement('td')
      if (c instanceof Node) td.append(c)
      else if (typeof c === 'object' && c !== null) {
        td.textContent = c.text
        if (c.cls) td.className = c.cls
        if (c.title) td.title = c.title
        if (c.task) td.dataset.task = c.task
      } else td.textContent = String(c)
      tr.append(td)
    }
    return tr
  }

  function fill(tableId, rows) {
    const body = $(tableId).tBodies[0]
    body.replaceChildren(...rows)
  }

  // ---- cards -------------------------------------------------------------------------------------
  const CARDS = [
    ['peers', 'peers heard'],
    ['slots', 'slots'],
    ['running', 'running'],
    ['queued', 'queued'],
    ['stealable', 'stealable'],
    ['leasedOut', 'leased out'],
    ['leasedIn', 'leased in'],
    ['accepted', 'accepted'],
    ['executed', 'executed here'],
    ['tasksStolen', 'stolen by this node'],
    ['tasksGranted', 'granted to thieves'],
    ['retried', 'retried'],
    ['failures', 'failures seen'],
  ]
  for (const [key, label] of CARDS) {
    const card = document.createElement('div')
    card.className = 'card'
    const value = document.createElement('b')
    value.id = `card-${key}`
    value.textContent = '0'
    const name = document.createElement('span')
    name.textContent = label
    card.append(value, name)
    $('cards').append(card)
  }
  const setCard = (key, value) => {
    $(`card-${key}`).textContent = String(value)
  }

  // ---- chart -------------------------------------------------------------------------------------
  const series = { t: [], finished: [], stolen: [], granted: [], queued: [], running: [] }
  let chart
  function makeChart() {
    const el = $('chart')
    chart = new uPlot(
      {
        width: Math.max(300, el.clientWidth - 10),
        height: 260,
        scales: { x: { time: true }, rate: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] } },
        axes: [
          {},
          { scale: 'rate', label: 'tasks / s' },
          { scale: 'count', side: 1, label: 'tasks', grid: { show: false } },
        ],
        series: [
          {},
          { label: 'finished here /s', scale: 'rate', stroke: '#2f6fde', width: 2 },
          { label: 'stolen /s', scale: 'rate', stroke: '#e67e22', width: 2 },
          { label: 'granted /s', scale: 'rate', stroke: '#8e44ad', width: 2 },
          { label: 'queued', scale: 'count', stroke: '#7f8c8d', dash: [4, 4] },
          { label: 'running', scale: 'count', stroke: '#27ae60', dash: [4, 4] },
        ],
      },
      [[], [], [], [], [], []],
      el,
    )
    window.addEventListener('resize', () =>
      chart.setSize({ width: Math.max(300, el.clientWidth - 10), height: 260 }),
    )
  }

  let previous
  function sample(status) {
    const now = Date.now()
    const c = status.counters
    if (previous !== undefined) {
      const dt = Math.max(0.001, (now - previous.at) / 1000)
      const rate = (k) => Math.max(0, (c[k] - previous.counters[k]) / dt)
      series.t.push(now / 1000)
      series.finished.push(rate('executed'))
      series.stolen.push(rate('tasksStolen'))
      series.granted.push(rate('tasksGranted'))
      series.queued.push(status.queued)
      series.running.push(status.running)
      while (series.t.length > 0 && series.t[0] < now / 1000 - WINDOW_S)
        for (const s of Object.values(series)) s.shift()
      chart.setData([series.t, series.finished, series.stolen, series.granted, series.queued, series.running])
      const el = $('chart')
      el.dataset.points = String(series.t.length)
      el.dataset.maxFinished = String(Math.max(0, ...series.finished))
    }
    previous = { at: now, counters: { ...c } }
  }

  // ---- polling -----------------------------------------------------------------------------------
  let failuresSeen = 0
  async function pollStatus() {
    const status = await api('/status')
    $('node').textContent = status.peerId
    for (const key of ['slots', 'running', 'queued', 'stealable', 'leasedOut', 'leasedIn'])
      setCard(key, status[key])
    for (const key of ['accepted', 'executed', 'tasksStolen', 'tasksGranted', 'retried'])
      setCard(key, status.counters[key])
    sample(status)
  }

  async function pollMesh() {
    const mesh = await api('/mesh')
    setCard('peers', mesh.nodes.length - 1)
    $('mesh-count').textContent = `(${mesh.nodes.length} nodes)`
    fill(
      'peers',
      mesh.nodes.map((n) => {
        const bar = document.createElement('span')
        bar.className = 'bar'
        bar.style.width = `${Math.round(Math.min(1, n.load) * 60)}px`
        const load = document.createElement('span')
        load.append(bar, ` ${Math.round(n.load * 100)}%`)
        return row([
          { text: short(n.peerId), title: n.peerId },
          n.heard,
          n.slots,
          n.running,
          n.queued,
          ago(n.expectedWaitMs),
          load,
        ])
      }),
    )
  }

  async function pollTasks() {
    // running and leased tasks are bounded by slots and leases; queued ones are counted by /status
    const open = await api('/tasks?state=running,leased,unschedulable&limit=50')
    fill(
      'tasks',
      open.tasks.map((t) =>
        row([{ text: short(t.taskId), cls: 'id', task: t.taskId }, t.type, t.state, clock(t.submittedAt)]),
      ),
    )
    const failed = await api('/tasks?state=failed&limit=1000')
    failuresSeen = Math.max(failuresSeen, failed.tasks.length)
    setCard('failures', failuresSeen)
    fill(
      'failures',
      failed.tasks
        .slice(-20)
        .reverse()
        .map((t) =>
          row([
            { text: short(t.taskId), cls: 'id', task: t.taskId },
            t.type,
            { text: t.reason ?? 'failed', cls: 'error' },
            clock(t.endedAt ?? t.submittedAt),
          ]),
        ),
    )
  }

  // ---- live events -------------------------------------------------------------------------------
  let eventCount = 0
  function listen() {
    // an EventSource cannot send headers: the token goes in the query, which the API takes on a GET
    const source = new EventSource(`/events?token=${encodeURIComponent(token())}`)
    source.onopen = () => {
      $('live').textContent = 'live'
      $('live').className = 'badge'
    }
    source.onerror = () => {
      $('live').textContent = 'reconnecting'
      $('live').className = 'badge off'
    }
    source.onmessage = (msg) => {
      const e = JSON.parse(msg.data)
      eventCount++
      $('event-count').textContent = `(${eventCount} since the page opened)`
      const li = document.createElement('li')
      li.dataset.task = e.taskId
      if (e.state === 'failed') li.className = 'failed'
      const detail = e.detail === undefined ? '' : ` ${facts(e.detail, true)}`
      li.textContent = `${clock(e.at)} ${short(e.taskId)} ${e.event}${detail}`
      const list = $('events')
      list.prepend(li)
      while (list.children.length > 100) list.lastChild.remove()
    }
  }

  // ---- a task's story on click -------------------------------------------------------------------
  document.addEventListener('click', async (evt) => {
    const el = evt.target instanceof Element ? evt.target.closest('[data-task]') : null
    if (el === null) return
    const id = el.dataset.task
    const { events } = await api(`/tasks/${encodeURIComponent(id)}/story`)
    $('story-id').textContent = id
    fill(
      'story',
      events.map((e) => row([clock(e.at), e.event, e.detail === undefined ? '' : facts(e.detail, false)])),
    )
    $('story-panel').hidden = false
    $('story-panel').scrollIntoView({ behavior: 'smooth' })
  })
  $('story-close').addEventListener('click', () => {
    $('story-panel').hidden = true
  })

  // ---- start -------------------------------------------------------------------------------------
  $('login-form').addEventListener('submit', (evt) => {
    evt.preventDefault()
    // the one-time link checks the token and comes back as /#token=…
    location.href = `/?token=${encodeURIComponent($('token').value.trim())}`
  })

  function every(ms, fn) {
    const tick = () =>
      fn().catch((err) => {
        if (err instanceof Unauthorized) return
        $('live').textContent = `error: ${err.message}`
        $('live').className = 'badge off'
      })
    tick()
    setInterval(tick, ms)
  }

  api('/status').then(
    () => {
      $('main').hidden = false
      makeChart()
      every(1000, pollStatus)
      every(1000, pollMesh)
      every(2000, pollTasks)
      listen()
    },
    (err) => {
      if (err instanceof Unauthorized) $('login').hidden = false
      $('live').textContent = err instanceof Unauthorized ? 'no token' : `error: ${err.message}`
    },
  )
})()
