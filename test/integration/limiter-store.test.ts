import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createPool } from '../../src/db/pool.js'
import { cpsFromEnv, createLimitStore, listPacingAudit } from '../../src/pacing/limit-store.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'

let t: TestRedis
let db: TestDb
beforeAll(async () => {
  ;[t, db] = await Promise.all([createTestRedis('limitstore'), createTestDb('limitstore')])
})
afterAll(async () => {
  await Promise.all([t.cleanup(), db.drop()])
})

const change = { actor: 'alice', reason: 'carrier asked us to slow down', source: 'cli' }

describe('live limit store', () => {
  it('falls back to the MAX_CPS default while Redis holds no limit', async () => {
    const store = createLimitStore({ redis: t.redis, prefix: `${t.prefix}a:`, defaultLimit: 70 })
    expect(await store.getLimit()).toEqual({ limit: 70, source: 'default' })
  })

  it('setLimit writes Redis and the audit trail (old → new), newest first', async () => {
    const prefix = `${t.prefix}b:`
    const store = createLimitStore({ redis: t.redis, prefix, db: db.pool, defaultLimit: 100, cacheMs: 0 })
    const first = await store.setLimit(40, change)
    expect(first).toMatchObject({ old: null, new: 40 })
    expect(await t.redis.get(`${prefix}cps:limit`)).toBe('40')
    expect(await store.getLimit()).toEqual({ limit: 40, source: 'redis' })
    const second = await store.setLimit(60, { actor: 'bob', reason: 'back to normal', source: 'auto' })
    expect(second).toMatchObject({ old: 40, new: 60 })

    const audit = await listPacingAudit(db.pool)
    expect(audit.map((a) => [a.actor, a.source, a.oldLimit, a.newLimit, a.reason])).toEqual([
      ['bob', 'auto', 40, 60, 'back to normal'],
      ['alice', 'cli', null, 40, 'carrier asked us to slow down'],
    ])
    expect(audit[0]!.at).toBeInstanceOf(Date)
  })

  it('caches the limit for at most the cache period (1 s by default)', async () => {
    const prefix = `${t.prefix}c:`
    let now = 0
    const reader = createLimitStore({ redis: t.redis, prefix, defaultLimit: 100, nowMs: () => now })
    const writer = createLimitStore({ redis: t.redis, prefix, db: db.pool })
    expect((await reader.getLimit()).limit).toBe(100)
    await writer.setLimit(20, change)
    now = 999
    expect((await reader.getLimit()).limit).toBe(100)
    now = 1000
    expect(await reader.getLimit()).toEqual({ limit: 20, source: 'redis' })
    // a longer cache than 1 s is not allowed: `cps set` must take effect within a second
    const lazy = createLimitStore({ redis: t.redis, prefix, cacheMs: 60_000, nowMs: () => now })
    expect((await lazy.getLimit()).limit).toBe(20)
    await writer.setLimit(30, change)
    now = 2000
    expect((await lazy.getLimit()).limit).toBe(30)
  })

  it('refuses a limit that is not a whole number >= 1, and records nothing', async () => {
    const prefix = `${t.prefix}d:`
    const store = createLimitStore({ redis: t.redis, prefix, db: db.pool })
    const before = (await listPacingAudit(db.pool, { limit: 1000 })).length
    await expect(store.setLimit(0, change)).rejects.toThrow(
      /limit 0 refused: must be a whole number of calls per second, at least 1/,
    )
    await expect(store.setLimit(2.5, change)).rejects.toThrow(/limit 2.5 refused/)
    await expect(store.setLimit(5, { ...change, reason: '' })).rejects.toThrow(
      /refused: reason: must not be empty/,
    )
    await expect(store.setLimit(5, { ...change, actor: '' })).rejects.toThrow(
      /refused: actor: must not be empty/,
    )
    // a hold that has already ended (issue #16: `cps set 30 --for 0s`), as the control API sends it
    await expect(store.setLimit(5, change, { hold: { untilMs: Date.now() - 1 } })).rejects.toMatchObject({
      code: 'BAD_HOLD',
      message: expect.stringMatching(/is not after now.*a hold must last longer than 0/),
    })
    expect(await t.redis.get(`${prefix}cps:limit`)).toBeNull()
    expect((await listPacingAudit(db.pool, { limit: 1000 })).length).toBe(before)
  })

  it('changes nothing when PostgreSQL cannot record the change (the durable state is written first)', async () => {
    const prefix = `${t.prefix}e:`
    await t.redis.set(`${prefix}cps:limit`, '33')
    // a schema without the pacing_audit table
    const broken = createPool({ schema: `no_such_schema_${Date.now()}`, max: 1 })
    const store = createLimitStore({ redis: t.redis, prefix, db: broken })
    await expect(store.setLimit(90, change)).rejects.toThrow(
      /limit not changed: the audit row could not be written/,
    )
    expect(await t.redis.get(`${prefix}cps:limit`)).toBe('33')
    await broken.end()
  })

  it('ignores a garbage value in Redis (falls back to the default)', async () => {
    const prefix = `${t.prefix}f:`
    await t.redis.set(`${prefix}cps:limit`, 'fast')
    const store = createLimitStore({ redis: t.redis, prefix, defaultLimit: 12 })
    expect(await store.getLimit()).toEqual({ limit: 12, source: 'default' })
  })

  it('durable: the limit set is restored from PostgreSQL when Redis lost it, not the MAX_CPS default', async () => {
    const prefix = `${t.prefix}g:`
    const writer = createLimitStore({ redis: t.redis, prefix, db: db.pool, defaultLimit: 100 })
    await writer.setLimit(3, change)
    // Redis restarted without persistence / failed over: the key is gone
    await t.redis.del(`${prefix}cps:limit`)
    const dialer = createLimitStore({ redis: t.redis, prefix, db: db.pool, defaultLimit: 100, cacheMs: 0 })
    expect(await dialer.getLimit()).toEqual({ limit: 3, source: 'postgres' })
    // copied back, so the next read (and every other dialer) gets it from Redis
    expect(await t.redis.get(`${prefix}cps:limit`)).toBe('3')
    expect(await dialer.getLimit()).toEqual({ limit: 3, source: 'redis' })
    // nobody ever set one in this scope: the default
    const fresh = createLimitStore({
      redis: t.redis,
      prefix: `${t.prefix}g2:`,
      db: db.pool,
      defaultLimit: 100,
    })
    expect(await fresh.getLimit()).toEqual({ limit: 100, source: 'default' })
  })

  it('snapshot (cps get): reads the durable state once, restores a lost limit from it and says who controls it', async () => {
    const prefix = `${t.prefix}s:`
    const writer = createLimitStore({ redis: t.redis, prefix, db: db.pool })
    await writer.setLimit(7, change, { hold: { untilMs: null } })
    await t.redis.del(`${prefix}cps:limit`)
    const stateReads: string[] = []
    const counting = {
      query: (text: string, values?: unknown[]) => {
        if (/FROM pacing_state/.test(text)) stateReads.push(text)
        return db.pool.query(text, values)
      },
    } as unknown as typeof db.pool
    const store = createLimitStore({ redis: t.redis, prefix, db: counting, defaultLimit: 100, cacheMs: 0 })
    const { reading, control } = await store.snapshot()
    expect(reading).toEqual({ limit: 7, source: 'postgres' })
    expect(control).toMatchObject({ limit: 7, mode: 'held', heldBy: 'alice' })
    expect(stateReads).toHaveLength(1)
    expect(await t.redis.get(`${prefix}cps:limit`)).toBe('7')
    // Redis holds it again: the same single read, now for control only
    expect((await store.snapshot()).reading).toEqual({ limit: 7, source: 'redis' })
    expect(stateReads).toHaveLength(2)
    // nobody ever set one: the default, no control
    const fresh = createLimitStore({ redis: t.redis, prefix: `${prefix}none:`, db: db.pool, defaultLimit: 9 })
    expect(await fresh.snapshot()).toEqual({ reading: { limit: 9, source: 'default' }, control: null })
  })

  it('hold: a manual limit is kept from the adaptive pacer until it expires or is resumed; a safety cut still lowers it and says so', async () => {
    const prefix = `${t.prefix}h:`
    let now = Date.parse('2026-11-30T12:00:00Z')
    const store = createLimitStore({ redis: t.redis, prefix, db: db.pool, cacheMs: 0, nowMs: () => now })
    await store.setLimit(
      50,
      { actor: 'alice', reason: 'carrier asked', source: 'cli' },
      {
        hold: { untilMs: now + 2 * 3600_000 },
      },
    )
    expect(await store.control()).toMatchObject({
      limit: 50,
      mode: 'held',
      heldBy: 'alice',
      heldUntil: '2026-11-30T14:00:00.000Z',
      holdReason: 'carrier asked',
    })
    const pacer = { actor: 'pacer', reason: 'CPU 40% → 100', source: 'auto' }
    // the pacer's raise is refused while held
    const raise = await store.setLimit(100, pacer, { respectHold: { safety: false } })
    expect(raise).toMatchObject({ skipped: 'held', old: 50, new: 50 })
    expect(await t.redis.get(`${prefix}cps:limit`)).toBe('50')
    // so is an ordinary cut
    expect(await store.setLimit(40, pacer, { respectHold: { safety: false } })).toMatchObject({
      skipped: 'held',
    })
    // a safety cut (CPU critical) applies, keeps the hold, and the audit says so
    const cut = await store.setLimit(
      25,
      { ...pacer, reason: 'CPU 91% → 25' },
      { respectHold: { safety: true } },
    )
    expect(cut).toMatchObject({ old: 50, new: 25 })
    expect(cut.skipped).toBeUndefined()
    expect(cut.reason).toBe('safety cut below the limit held by alice (hold kept): CPU 91% → 25')
    expect(await store.control()).toMatchObject({ limit: 25, mode: 'held', heldBy: 'alice' })
    expect((await listPacingAudit(db.pool, { limit: 1 }))[0]!.reason).toMatch(
      /^safety cut below the limit held by alice/,
    )
    // the hold expires by itself: the pacer steers again
    now += 2 * 3600_000 + 1
    expect((await store.control())!.mode).toBe('auto')
    expect(await store.setLimit(100, pacer, { respectHold: { safety: false } })).toMatchObject({
      old: 25,
      new: 100,
    })
    // `cps auto --resume` ends a hold without an end
    await store.setLimit(10, { actor: 'bob', reason: 'outage', source: 'cli' }, { hold: { untilMs: null } })
    expect(await store.control()).toMatchObject({ mode: 'held', heldBy: 'bob' })
    expect((await store.control())!.heldUntil).toBeUndefined()
    expect(await store.resume({ actor: 'bob', reason: 'outage over', source: 'cli' })).toBe(true)
    expect(await store.control()).toMatchObject({ limit: 10, mode: 'auto' })
    expect(await store.resume({ actor: 'bob', reason: 'again', source: 'cli' })).toBe(false)
    expect((await listPacingAudit(db.pool, { limit: 1 }))[0]).toMatchObject({
      actor: 'bob',
      oldLimit: 10,
      newLimit: 10,
      reason: 'hold by bob ended: outage over',
    })
  })

  it('reads MAX_CPS / DEGRADED_CPS from the environment, naming a bad one', () => {
    expect(cpsFromEnv('MAX_CPS', 100, {})).toBe(100)
    expect(cpsFromEnv('MAX_CPS', 100, { MAX_CPS: '45' })).toBe(45)
    expect(() => cpsFromEnv('DEGRADED_CPS', 5, { DEGRADED_CPS: '-1' })).toThrow(
      /DEGRADED_CPS="-1" is not a valid limit: set it to a whole number >= 1/,
    )
    for (const bad of ['2.5', 'abc', '0'])
      expect(() => cpsFromEnv('MAX_CPS', 100, { MAX_CPS: bad })).toThrow(/MAX_CPS=.* is not a valid limit/)
    expect(cpsFromEnv('MAX_CPS', 100, { MAX_CPS: ' 12 ' })).toBe(12)
  })
})
