import { describe, expect, it } from 'vitest'
import { StoryLog } from '../../../src/node/story/story.ts'
import { TaskEvents } from '../../../src/node/story/task-events.ts'

describe('StoryLog', () => {
  it('keeps events in order with their details', () => {
    let t = 100
    const log = new StoryLog(10, 10, () => t++)
    log.record('a', 'accepted')
    log.record('a', 'granted', { to: 'peer-b', epoch: 1 })
    expect(log.get('a')).toEqual([
      { at: 100, event: 'accepted' },
      { at: 101, event: 'granted', detail: { to: 'peer-b', epoch: 1 } },
    ])
    expect(log.get('unknown')).toEqual([])
  })

  it('drops the oldest events of a long story', () => {
    const log = new StoryLog(10, 3)
    for (const e of ['a', 'b', 'c', 'd']) log.record('t', e)
    expect(log.get('t').map((e) => e.event)).toEqual(['b', 'c', 'd'])
  })

  it('forgets the oldest task beyond its bound', () => {
    const log = new StoryLog(2, 3)
    log.record('t1', 'x')
    log.record('t2', 'x')
    log.record('t3', 'x')
    expect(log.size).toBe(2)
    expect(log.get('t1')).toEqual([])
    expect(log.get('t3')).toHaveLength(1)
  })

  it('returns a copy that callers cannot use to change the log', () => {
    const log = new StoryLog()
    log.record('t', 'x')
    log.get('t').push({ at: 0, event: 'forged' })
    expect(log.get('t')).toHaveLength(1)
  })

  it('tells a story from the event stream as it tells recorded ones: time, event, detail, no task id', () => {
    const events = new TaskEvents()
    const log = new StoryLog()
    const stop = log.listen(events)
    events.emit('t', 'accepted')
    events.emit('t', 'granted', { to: 'peer-b', epoch: 2 })
    events.emit('other', 'accepted')
    stop()
    events.emit('t', 'finished')
    const story = log.get('t')
    expect(story.map((e) => Object.keys(e).sort())).toEqual([
      ['at', 'event'],
      ['at', 'detail', 'event'],
    ])
    expect(story[1]).toMatchObject({ event: 'granted', detail: { to: 'peer-b', epoch: 2 } })
    // what a reader gets is its own: changing it changes no later read
    story[0].event = 'forged'
    expect(log.get('t')[0].event).toBe('accepted')
  })
})
