import { describe, expect, it } from 'vitest'
import { stackDatabase } from '../../src/local-stack/stack-file.js'
import type { StackFile } from '../../src/local-stack/stack-file-schema.js'

const running = {
  pid: 1,
  startedAt: '2026-12-02T00:00:00.000Z',
  databaseUrl: 'postgres://dialctl@127.0.0.1:54329/dialctl',
  redisUrl: 'redis://127.0.0.1:6379',
  workerUrl: 'http://127.0.0.1:8787',
  pipeName: 'dial-tasks-to-dialer-worker',
  schema: 'dev_stack',
} as StackFile

// One rule for every local command (control plane, db migrate): what the environment leaves unset
// comes from the running stack, but the stack's schema only in the stack's own database — a
// DATABASE_URL for production with a dev stack running here must not get (or, for db migrate,
// create) the dev stack's schema there.
describe('stackDatabase (where a local command finds PostgreSQL)', () => {
  it("takes the stack's database and schema when the environment names neither", () => {
    expect(stackDatabase(running, {})).toEqual({ databaseUrl: running.databaseUrl, schema: 'dev_stack' })
    expect(stackDatabase(running, { DATABASE_URL: '', DATABASE_SCHEMA: '' })).toEqual({
      databaseUrl: running.databaseUrl,
      schema: 'dev_stack',
    })
  })

  it("a DATABASE_SCHEMA alone is a schema of the stack's database", () => {
    expect(stackDatabase(running, { DATABASE_SCHEMA: 'mine' })).toEqual({ databaseUrl: running.databaseUrl })
  })

  it("another database never gets the stack's schema", () => {
    expect(stackDatabase(running, { DATABASE_URL: 'postgres://prod.internal/dialer' })).toEqual({})
    expect(stackDatabase(running, { PGHOST: 'prod.internal' })).toEqual({})
  })

  it('no stack: nothing from it', () => {
    expect(stackDatabase(undefined, {})).toEqual({})
  })
})
