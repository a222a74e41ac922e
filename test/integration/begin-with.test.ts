import type pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { beginWith } from '../../src/db/begin-with.js'
import { inTransactionFrom } from '../../src/db/pool.js'
import { createTestDb, type TestDb } from '../helpers/db.js'

/**
 * beginWith sends BEGIN with a transaction's first statement in one round trip (issue #17, the
 * dial gate's transaction). It leans on two hooks of node-postgres's Query; these tests fail if an
 * upgrade changes them, and pin that the result is the transaction a separate BEGIN would open.
 */
let tdb: TestDb
beforeAll(async () => {
  tdb = await createTestDb('begin_with')
  await tdb.pool.query('CREATE TABLE bw (id int PRIMARY KEY, note text)')
})
afterAll(async () => {
  await tdb.drop()
})

/** ReadyForQuery messages `client` receives while `work` runs: one per round trip. */
async function roundTrips<T>(
  client: pg.PoolClient,
  work: () => Promise<T>,
): Promise<{ n: number; value: T }> {
  const connection = (client as unknown as { connection: NodeJS.EventEmitter }).connection
  let n = 0
  const count = () => n++
  connection.on('readyForQuery', count)
  try {
    const value = await work()
    return { n, value }
  } finally {
    connection.off('readyForQuery', count)
  }
}

describe('beginWith', () => {
  it("opens a transaction in one round trip and resolves with the statement's result alone", async () => {
    const client = await tdb.pool.connect()
    try {
      const { n, value } = await roundTrips(client, () =>
        beginWith<{ x: number; y: string }>(client, 'SELECT $1::int AS x, $2::text AS y', [7, 'seven']),
      )
      expect(n).toBe(1)
      expect(value.command).toBe('SELECT')
      expect(value.rowCount).toBe(1)
      expect(value.rows).toEqual([{ x: 7, y: 'seven' }])
      expect(value.fields.map((f) => f.name)).toEqual(['x', 'y'])
      // in a transaction block: SAVEPOINT is refused outside one
      await client.query('SAVEPOINT s')
      await client.query('ROLLBACK')
    } finally {
      client.release()
    }
  })

  it('what follows runs in that transaction: invisible to others until COMMIT, gone on ROLLBACK', async () => {
    const client = await tdb.pool.connect()
    const count = async (id: number) =>
      Number((await tdb.pool.query('SELECT count(*) AS n FROM bw WHERE id = $1', [id])).rows[0].n)
    try {
      await beginWith(client, 'INSERT INTO bw (id, note) VALUES ($1, $2)', [1, 'rolled back'])
      expect(await count(1)).toBe(0)
      await client.query('ROLLBACK')
      expect(await count(1)).toBe(0)
      await beginWith(client, 'INSERT INTO bw (id, note) VALUES ($1, $2)', [2, 'committed'])
      await client.query('INSERT INTO bw (id, note) VALUES ($1, $2)', [3, 'same transaction'])
      expect(await count(2)).toBe(0)
      await client.query('COMMIT')
      expect(await count(2)).toBe(1)
      expect(await count(3)).toBe(1)
      // now() is the transaction's start, the same for both statements
      await beginWith(client, 'SELECT $1::int', [0])
      const { rows } = await client.query<{ same: boolean }>(
        'SELECT now() = (SELECT now()) AND now() < clock_timestamp() AS same',
      )
      expect(rows[0]!.same).toBe(true)
      await client.query('COMMIT')
    } finally {
      client.release()
    }
  })

  it('a failing first statement rejects with the server error; ROLLBACK ends the aborted transaction', async () => {
    const client = await tdb.pool.connect()
    try {
      await expect(beginWith(client, 'SELECT 1 / $1::int', [0])).rejects.toThrow(/division by zero/)
      await expect(client.query('SELECT 1')).rejects.toThrow(/current transaction is aborted/)
      await client.query('ROLLBACK')
      expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    } finally {
      client.release()
    }
  })

  it('refuses a first statement without parameters (it must take the extended protocol)', () => {
    expect(() => beginWith({} as pg.PoolClient, 'SELECT 1', [])).toThrow(/must take parameters/)
  })
})

describe('inTransactionFrom', () => {
  it('commits what fn did after the first statement, whose result fn receives', async () => {
    const got = await inTransactionFrom<{ id: number }, number>(
      tdb.pool,
      { text: 'INSERT INTO bw (id, note) VALUES ($1, $2) RETURNING id', values: [10, 'first'] },
      async (client, first) => {
        await client.query('INSERT INTO bw (id, note) VALUES ($1, $2)', [11, 'second'])
        return first.rows[0]!.id
      },
    )
    expect(got).toBe(10)
    const { rows } = await tdb.pool.query('SELECT id FROM bw WHERE id IN (10, 11) ORDER BY id')
    expect(rows).toEqual([{ id: 10 }, { id: 11 }])
  })

  it('rolls back the first statement too when fn throws, on a pool and on a held client', async () => {
    const fail = async () => {
      throw new Error('fn failed')
    }
    const insert = (id: number) => ({ text: 'INSERT INTO bw (id, note) VALUES ($1, $2)', values: [id, 'x'] })
    await expect(inTransactionFrom(tdb.pool, insert(20), fail)).rejects.toThrow('fn failed')
    const held = await tdb.pool.connect()
    try {
      await expect(inTransactionFrom(held, insert(21), fail)).rejects.toThrow('fn failed')
      expect((await held.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    } finally {
      held.release()
    }
    const { rows } = await tdb.pool.query('SELECT id FROM bw WHERE id IN (20, 21)')
    expect(rows).toEqual([])
  })
})
