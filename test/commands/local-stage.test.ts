import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { z } from 'zod'
import { AutoStep } from '../../src/control/auto.js'
import { Check, DoctorReport } from '../../src/control/doctor.js'
import { LoadTestSummary } from '../../src/control/load-test.js'
import {
  AuditEntry,
  CampaignSummary,
  CampaignTransition,
  DlqMessage,
  ImportResult,
  PacingSnapshot,
  PipeDescription,
  QueueDepth,
  RedriveStatus,
} from '../../src/control/port.js'
import { demoCampaignFor } from '../../src/local-stack/demo.js'
import { startMediaServer, type MediaServer } from '../../src/local-stack/demo-audio.js'
import { isReservedTestNumber } from '../../src/tasks/test-numbers.js'
import { createRedisLimiter } from '../../src/pacing/limiter.js'
import { registerPipe, setPipeCurrentState } from '../../src/pipe/state.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { primeLimiter } from '../helpers/pacing.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { dialctl, jsonOf, normalize } from './helpers.js'

let db: TestDb
let ensureLocalQueues: typeof import('../../src/queue/pg-queue.js').ensureLocalQueues
let redis: TestRedis
let dir: string
const saved = { ...process.env }

// The demo campaign's config (the seed flow, always open whatever the day and hour the test runs
// at: stable output), under a name of its own; a copy, as a test may break a field of it.
const campaignDoc = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  name: 'Donation Drive 2024',
  timezone: 'UTC',
  // served by this test's media server, so campaign start's audio check passes
  config: demoCampaignFor(media.audioUrl).config,
  ...extra,
})

function file(name: string, content: string): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

let media: MediaServer
beforeAll(async () => {
  media = await startMediaServer({ port: 0 })
  db = await createTestDb('cmdlocal')
  redis = await createTestRedis('cmdlocal')
  dir = mkdtempSync(join(tmpdir(), 'dialctl-cmd-'))
  // The commands share this process (and, run from source, its modules): quiet the pipeline's
  // INFO logs as the CLI does, before the local queue module (and its logger) is loaded.
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN'
  ;({ ensureLocalQueues } = await import('../../src/queue/pg-queue.js'))
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_REDIS_PREFIX: redis.prefix,
    DIALCTL_STAGE: 'local',
    DIALCTL_ACTOR: 'tester',
    // nothing listens there: the worker is "down" for this test
    DIALCTL_WORKER_URL: 'http://127.0.0.1:9',
    DIALCTL_PIPE_NAME: 'test-pipe',
    NO_COLOR: '1',
    MAX_CPS: '100',
  })
  delete process.env.DIALCTL_CPS_CEILING
})

afterAll(async () => {
  process.env = saved
  await media.close()
  await redis.cleanup()
  await db.drop()
})

describe('cps (local stack)', () => {
  it('cps get: the default limit when Redis holds none', async () => {
    const run = await dialctl(['cps', 'get', '--json'])
    expect(run.exitCode).toBe(0)
    const out = PacingSnapshot.extend({ stage: z.literal('local') }).parse(jsonOf(run))
    expect(out.limit).toEqual({ limit: 100, source: 'default', defaultLimit: 100 })
    expect(out.last60).toHaveLength(60)
  })

  it('cps set refuses N <= 0 and N above the ceiling without --force (usage, exit 2)', async () => {
    const zero = await dialctl(['cps', 'set', '0', '--reason', 'x'])
    expect(zero.exitCode).toBe(2)
    expect(zero.stderr).toContain('at least 1 call per second (got 0).')
    // the way to stop dialing is said once, in the suggestion with its commands (issue #16)
    expect(zero.stderr.match(/to stop dialing/gi)).toHaveLength(1)
    const high = await dialctl(['cps', 'set', '501', '--reason', 'x', '--json'])
    expect(high.exitCode).toBe(2)
    expect(jsonOf(high)).toMatchObject({ error: { code: 'ABOVE_CEILING' } })
    // --force passes the ceiling, never the settable bound (SettableCpsLimit, the one rule)
    const huge = await dialctl(['cps', 'set', '10001', '--reason', 'x', '--force'])
    expect(huge.exitCode).toBe(2)
    expect(huge.stderr).toContain('must be at most 10000 calls per second (got 10001)')
    expect(await redis.redis.get(`${redis.prefix}cps:limit`)).toBeNull()
    const noReason = await dialctl(['cps', 'set', '50'])
    expect(noReason.exitCode).toBe(2)
    // A value that does not parse: one line naming the argument, then the → line.
    const abc = await dialctl(['cps', 'set', 'abc', '--reason', 'x'])
    expect(abc.exitCode).toBe(2)
    expect(abc.stderr.trim().split('\n')).toEqual([
      'Error: LIMIT: Expected an integer but received: abc',
      expect.stringMatching(
        /^ {2}→ Run `dialctl cps set --help` for the arguments; e\.g\. dialctl cps set 50 /,
      ),
    ])
    const flag = await dialctl(['cps', 'history', '--limit', 'x'])
    expect(flag.stderr).toContain(
      'Error: --limit: Expected an integer but received: x\n  → Run `dialctl cps history --help`',
    )
  })

  it('cps set --persist (removed: the limit is stage state) is a usage error, nothing changes', async () => {
    const run = await dialctl(['cps', 'set', '50', '--reason', 'x', '--persist'])
    expect(run.exitCode).toBe(2)
    expect(`${run.stderr}${run.error?.message ?? ''}`).toContain('--persist')
    expect(await redis.redis.get(`${redis.prefix}cps:limit`)).toBeNull()
  })

  it('cps set writes the live limit and the audit trail; get and history show it', async () => {
    const run = await dialctl(['cps', 'set', '40', '--reason', 'carrier asked', '--json'])
    expect(run.exitCode).toBe(0)
    const out = z.object({ stage: z.string(), change: AuditEntry }).parse(jsonOf(run))
    expect(out.change).toMatchObject({
      oldLimit: null,
      newLimit: 40,
      actor: 'tester',
      source: 'cli',
      reason: 'carrier asked',
    })
    expect(await redis.redis.get(`${redis.prefix}cps:limit`)).toBe('40')

    const forced = await dialctl(['cps', 'set', '600', '--reason', 'load test', '--force'])
    expect(forced.exitCode).toBe(0)
    expect(forced.stdout).toContain('CPS limit 40 → 600')
    await dialctl(['cps', 'set', '40', '--reason', 'back to normal'])

    // a limiter that has been running (a fresh one pauses a horizon first: limiter.test.ts)
    await primeLimiter(redis.redis, redis.prefix)
    const limiter = createRedisLimiter({ redis: redis.redis, prefix: redis.prefix })
    const admission = await limiter.admit(5, 40)
    expect(admission.delaysMs).toHaveLength(5)
    // admissions are spread over the coming slots: wait until the last one is in the past
    const lastSlot = Math.max(...admission.slotsMicros!)
    await vi.waitUntil(async () => {
      const [seconds, micros] = await redis.redis.time()
      return Number(seconds) * 1e6 + Number(micros) > lastSlot
    })
    const get = PacingSnapshot.extend({ stage: z.string() }).parse(
      jsonOf(await dialctl(['cps', 'get', '--json'])),
    )
    expect(get.limit).toEqual({ limit: 40, source: 'redis', defaultLimit: 100 })
    expect(get.last60.reduce((s, x) => s + x.admitted, 0)).toBe(5)

    const history = await dialctl(['cps', 'history', '--json'])
    const entries = z.array(AuditEntry).parse(jsonOf(history))
    expect(entries.map((e) => [e.oldLimit, e.newLimit, e.reason])).toEqual([
      [600, 40, 'back to normal'],
      [40, 600, 'load test'],
      [null, 40, 'carrier asked'],
    ])
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM pacing_audit')
    expect(rows[0].n).toBe(3)
    const table = await dialctl(['cps', 'history'])
    expect(normalize(table.stdout)).toMatchSnapshot()
  })

  it('cps auto --once --dry-run prints the decision and its inputs and changes nothing', async () => {
    const run = await dialctl(['cps', 'auto', '--once', '--dry-run', '--json'])
    expect(run.exitCode).toBe(0)
    const out = z
      .object({ stage: z.string(), dryRun: z.literal(true), steps: z.array(AutoStep).length(1) })
      .parse(jsonOf(run))
    const step = out.steps[0]!
    // worker unreachable: no CPU reading; no calls: no answer rate → the policy holds
    expect(step.inputs).toEqual({ cpuPercent: null, answerRate: null, answerSample: 0, currentLimit: 40 })
    expect(step.reason).toContain('no CPU reading')
    expect(step.applied).toBe(false)
    expect(await redis.redis.get(`${redis.prefix}cps:limit`)).toBe('40')
  })

  it('cps set holds the limit (--for), get shows the mode and the last change, Redis loss restores it, auto --resume hands back (#12)', async () => {
    const held = await dialctl([
      'cps',
      'set',
      '30',
      '--for',
      '2h',
      '--reason',
      'carrier maintenance',
      '--json',
    ])
    expect(held.exitCode).toBe(0)
    await redis.redis.del(`${redis.prefix}cps:limit`)
    const get = PacingSnapshot.extend({ stage: z.string() }).parse(
      jsonOf(await dialctl(['cps', 'get', '--json'])),
    )
    expect(get.limit).toEqual({ limit: 30, source: 'postgres', defaultLimit: 100 })
    expect(get.control).toMatchObject({
      mode: 'held',
      heldBy: 'tester',
      holdReason: 'carrier maintenance',
      lastChange: { actor: 'tester', source: 'cli', reason: 'carrier maintenance' },
    })
    expect(Date.parse(get.control!.heldUntil!) - Date.now()).toBeGreaterThan(7100_000)
    expect(await redis.redis.get(`${redis.prefix}cps:limit`)).toBe('30')
    const text = await dialctl(['cps', 'get'])
    expect(text.stdout).toContain('held by tester until')
    const bad = await dialctl(['cps', 'set', '30', '--for', 'soon', '--reason', 'x'])
    expect(bad.exitCode).toBe(2)
    const resume = await dialctl(['cps', 'auto', '--resume', '--reason', 'maintenance over'])
    expect(resume.exitCode).toBe(0)
    expect(resume.stdout).toContain('hold ended')
    const after = PacingSnapshot.extend({ stage: z.string() }).parse(
      jsonOf(await dialctl(['cps', 'get', '--json'])),
    )
    expect(after.control).toMatchObject({ mode: 'auto' })
    // leave the limit as the next tests expect it
    await dialctl(['cps', 'set', '40', '--reason', 'back to normal'])
    await dialctl(['cps', 'auto', '--resume'])
  })

  it('cps auto --policy with an invalid file names the field (exit 2)', async () => {
    const policy = file('policy.json', JSON.stringify({ floor: 50, ceiling: 10 }))
    const run = await dialctl(['cps', 'auto', '--once', '--policy', policy])
    expect(run.exitCode).toBe(2)
    expect(run.stderr).toMatch(/floor: must not exceed ceiling/)
  })
})

describe('campaigns and contacts (local stack)', () => {
  it('campaign create lists every problem, naming the field and the node', async () => {
    const bad = campaignDoc('bad-1')
    ;(bad.config.ivrFlow.nodes[1] as { validInputs: string[] }).validInputs = ['1', '9', '5']
    bad.config.maxConcurrentCalls = -3
    const run = await dialctl(['campaign', 'create', '--file', file('bad.json', JSON.stringify(bad))])
    expect(run.exitCode).toBe(1)
    expect(run.stderr).toContain('config.maxConcurrentCalls')
    expect(run.stderr).toMatch(/node "node-2" .*5/)
    const { rows } = await db.pool.query('SELECT count(*)::int AS n FROM campaigns')
    expect(rows[0].n).toBe(0)
  })

  it('campaign create checks each audio URL as Asterisk will fetch it: the seed mp3 is refused with what to fix', async () => {
    const run = await dialctl([
      'campaign',
      'create',
      '--file',
      // the seed's mp3 (the demo itself now plays a WAV its stack serves)
      file(
        'mp3.json',
        JSON.stringify(campaignDoc('camp-mp3')).replaceAll(
          media.audioUrl,
          'https://s3.amazonaws.com/bucket/audio.mp3',
        ),
      ),
    ])
    expect(run.exitCode).toBe(1)
    expect(run.stderr).toContain("The campaign's audio will not play on Asterisk (nothing saved)")
    expect(run.stderr).toMatch(
      /audio\.mp3: mp3: a default Asterisk cannot play it \(needs format_mp3\) — convert it to 8 kHz mono WAV/,
    )
    expect(run.stderr).toContain('--no-audio-check')
    const { rows } = await db.pool.query(`SELECT 1 FROM campaigns WHERE id = 'camp-mp3'`)
    expect(rows).toEqual([])
  })

  it('campaign create saves a draft; list, show, start, pause, resume with an audit trail', async () => {
    const created = await dialctl([
      'campaign',
      'create',
      '--file',
      file('c.json', JSON.stringify(campaignDoc('camp-1'))),
      '--json',
      // its audio is a URL this sandbox cannot reach (audio-check.test.ts covers the check)
      '--no-audio-check',
    ])
    expect(created.exitCode).toBe(0)
    expect(CampaignSummary.parse(jsonOf(created))).toMatchObject({
      campaignId: 'camp-1',
      status: 'draft',
      isTest: false,
    })

    const again = await dialctl(['campaign', 'create', '--file', join(dir, 'c.json'), '--no-audio-check'])
    expect(again.exitCode).toBe(1)
    expect(again.stderr).toContain('already exists')
    // the next command names that campaign (issue #16): no update exists, so no "save it again"
    expect(again.stderr).toContain('dialctl campaign show camp-1')

    const noContacts = await dialctl(['campaign', 'start', 'camp-1'])
    expect(noContacts.exitCode).toBe(1)
    expect(noContacts.stderr).toContain('dialctl contacts import --campaign camp-1')

    await db.pool.query(
      `INSERT INTO blacklist (phone_number, reason, source) VALUES ('+442079460003', 'asked', 'ivr')`,
    )
    const csv = file(
      'contacts.csv',
      [
        'id,phone_number,firstName',
        'k1,+442079460001,John',
        'k2,0501234567,NoPlus',
        'k3,+442079460003,Listed',
        'k1,+442079460004,SameId',
        'k5,+442079460001,SameNumber',
        'k6,+442079460006',
        '"k7","+442079460007","Quoted, Name"',
      ].join('\n'),
    )
    const imported = await dialctl(['contacts', 'import', '--campaign', 'camp-1', csv, '--json'])
    expect(imported.exitCode).toBe(0)
    const result = ImportResult.parse(jsonOf(imported))
    // duplicates inside the file (issue #15): the first line wins, later ones refused naming it
    expect(result).toMatchObject({ campaignId: 'camp-1', imported: 3, duplicates: 0 })
    expect(result.invalid.map((i) => [i.line, i.field, i.message])).toEqual([
      [3, 'phone_number', expect.stringMatching(/not a valid E\.164/)],
      [5, 'id', 'duplicates line 2 (same id); the first line is kept'],
      [6, 'phone_number', 'duplicates line 2 (same number); the first line is kept'],
      [7, 'row', expect.stringMatching(/2 fields/)],
    ])
    expect(result.blacklisted).toEqual([{ line: 4, contactId: 'k3', phone: '+**********03' }])
    const { rows: k7 } = await db.pool.query(`SELECT metadata FROM contacts WHERE id = 'k7'`)
    expect(k7[0].metadata).toEqual({ firstName: 'Quoted, Name' })
    const human = await dialctl(['contacts', 'import', '--campaign', 'camp-1', csv])
    expect(normalize(human.stdout)).toMatchSnapshot()

    // under --strict a duplicate line refuses the file: exit 1, nothing imported
    const strict = await dialctl(['contacts', 'import', '--campaign', 'camp-1', csv, '--strict'])
    expect(strict.exitCode).toBe(1)
    expect(strict.stderr).toMatch(/4 row\(s\) of .* refused under --strict; nothing was imported/)
    expect(strict.stderr).toContain('line 5 id: duplicates line 2 (same id)')

    const missing = await dialctl(['contacts', 'import', '--campaign', 'nope', csv])
    expect(missing.exitCode).toBe(1)
    expect(missing.stderr).toContain('dialctl campaign list')

    // start checks the audio as Asterisk will fetch it: an mp3 is refused, nothing moves
    await db.pool.query(
      `UPDATE campaigns SET config = jsonb_set(config, '{audioFileUrl}', '"https://s3.amazonaws.com/bucket/audio.mp3"') WHERE id = 'camp-1'`,
    )
    const refused = await dialctl(['campaign', 'start', 'camp-1'])
    expect(refused.exitCode).toBe(1)
    expect(refused.stderr).toContain("Campaign camp-1's audio will not play on Asterisk (not started)")
    expect(refused.stderr).toMatch(/audio\.mp3: mp3: a default Asterisk cannot play it/)
    expect(refused.stderr).toContain('dialctl campaign start camp-1 again')
    await db.pool.query(
      `UPDATE campaigns SET config = jsonb_set(config, '{audioFileUrl}', to_jsonb($1::text)) WHERE id = 'camp-1'`,
      [media.audioUrl],
    )
    const start = await dialctl(['campaign', 'start', 'camp-1', '--json'])
    expect(CampaignTransition.parse(jsonOf(start))).toMatchObject({
      from: 'draft',
      to: 'active',
      actor: 'tester',
    })

    const pauseNoReason = await dialctl(['campaign', 'pause', 'camp-1'])
    expect(pauseNoReason.exitCode).toBe(2)
    const pause = await dialctl(['campaign', 'pause', 'camp-1', '--reason', 'carrier complaint'])
    expect(pause.exitCode).toBe(0)
    expect(pause.stdout).toContain('camp-1: active → paused (by tester: carrier complaint)')
    // a repeated runbook step is done, not failed: exit 0, nothing moved, nothing recorded (#16)
    const pauseAgain = await dialctl(['campaign', 'pause', 'camp-1', '--reason', 'again'])
    expect(pauseAgain.exitCode).toBe(0)
    expect(pauseAgain.stdout).toContain('Campaign camp-1 is already paused: nothing to do.')
    const pauseAgainJson = await dialctl(['campaign', 'pause', 'camp-1', '--reason', 'again', '--json'])
    expect(CampaignTransition.parse(jsonOf(pauseAgainJson))).toMatchObject({
      from: 'paused',
      to: 'paused',
      changed: false,
    })
    const resume = await dialctl(['campaign', 'resume', 'camp-1'])
    expect(resume.exitCode).toBe(0)
    const { rows: events } = await db.pool.query(
      `SELECT from_status, to_status, reason, actor FROM campaign_events WHERE campaign_id = 'camp-1' ORDER BY id`,
    )
    expect(events).toEqual([
      { from_status: null, to_status: 'draft', reason: 'created', actor: 'tester' },
      { from_status: 'draft', to_status: 'active', reason: null, actor: 'tester' },
      { from_status: 'active', to_status: 'paused', reason: 'carrier complaint', actor: 'tester' },
      { from_status: 'paused', to_status: 'active', reason: null, actor: 'tester' },
    ])

    const show = CampaignSummary.parse(jsonOf(await dialctl(['campaign', 'show', 'camp-1', '--json'])))
    expect(show).toMatchObject({
      status: 'active',
      windowOpen: true,
      contacts: { total: 3, pending: 3, queued: 0, dialing: 0, done: 0, failed: 0 },
      blacklisted: 1,
      answerRate: null,
    })
    const list = await dialctl(['campaign', 'list'])
    expect(list.exitCode).toBe(0)
    expect(normalize(list.stdout)).toMatchSnapshot()
    const detail = await dialctl(['campaign', 'show', 'camp-1'])
    expect(normalize(detail.stdout)).toMatchSnapshot()
    // cancel: final, audited with its reason
    await dialctl([
      'campaign',
      'create',
      '--file',
      file('c2.json', JSON.stringify(campaignDoc('camp-2'))),
      '--no-audio-check',
    ])
    expect((await dialctl(['campaign', 'cancel', 'camp-2'])).exitCode).toBe(2)
    const cancel = await dialctl(['campaign', 'cancel', 'camp-2', '--reason', 'never launched', '--json'])
    expect(CampaignTransition.parse(jsonOf(cancel))).toMatchObject({
      from: 'draft',
      to: 'cancelled',
      reason: 'never launched',
    })
    const restart = await dialctl(['campaign', 'resume', 'camp-2'])
    expect(restart.exitCode).toBe(1)
    expect(restart.stderr).toContain('cancelled is final')
    // A final campaign takes no contacts and no pushed tasks: refused before anything is written.
    const lateImport = await dialctl(['contacts', 'import', '--campaign', 'camp-2', csv, '--json'])
    expect(lateImport.exitCode).toBe(1)
    expect(jsonOf(lateImport)).toMatchObject({ error: { code: 'CAMPAIGN_CLOSED' } })
    const lateImportText = await dialctl(['contacts', 'import', '--campaign', 'camp-2', csv])
    expect(lateImportText.stderr).toContain('it is cancelled, which is final')
    expect(lateImportText.stderr).toContain('→ Create a new campaign (dialctl campaign create --file')
    const { rows: none } = await db.pool.query(`SELECT 1 FROM contacts WHERE campaign_id = 'camp-2'`)
    expect(none).toEqual([])
    const depth = (await ensureLocalQueues(db.pool)).queue
    const before = (await depth.depth()).visible
    const latePush = await dialctl(['push', '--campaign', 'camp-2', '--phone', '+12125550100'])
    expect(latePush.exitCode).toBe(1)
    expect(latePush.stderr).toContain(
      'Campaign camp-2 is cancelled and accepts no dial tasks; nothing was sent.',
    )
    expect((await depth.depth()).visible).toBe(before)

    const unknown = await dialctl(['campaign', 'show', 'nope', '--json'])
    expect(unknown.exitCode).toBe(1)
    expect(jsonOf(unknown)).toMatchObject({ error: { code: 'CAMPAIGN_NOT_FOUND' } })
  })
})

describe('queues, pipe, load test, status, doctor (local stack)', () => {
  it('dlq list peeks without consuming; redrive moves back; purge needs --force', async () => {
    const { queue, dlq } = await ensureLocalQueues(db.pool)
    for (let i = 0; i < 3; i++)
      await dlq.send(
        JSON.stringify({
          campaignId: 'camp-1',
          contactId: `d${i}`,
          phoneNumber: `+44207946010${i}`,
          attempts: 2,
        }),
      )
    await dlq.send('not json +972501234567')

    const first = await dialctl(['dlq', 'list', '--json'])
    const list = z.array(DlqMessage).parse(jsonOf(first))
    expect(list.map((m) => m.contactId ?? m.bodySummary)).toEqual([
      'd0',
      'd1',
      'd2',
      'not json +**********67',
    ])
    expect(list[0]!.phone).toBe('+**********00')
    expect(first.stdout).not.toContain('2079460100')
    const second = z.array(DlqMessage).parse(jsonOf(await dialctl(['dlq', 'list', '--json'])))
    expect(second).toEqual(list)
    expect(
      normalize((await dialctl(['dlq', 'list', '--limit', '2'])).stdout).replace(
        /│ [0-9a-f-]{36} /g,
        '│ <id> ',
      ),
    ).toMatchSnapshot()

    const redrive = await dialctl(['dlq', 'redrive', '--max-per-second', '100', '--wait', '--json'])
    expect(redrive.exitCode).toBe(0)
    const r = z.object({ stage: z.string(), redrive: RedriveStatus }).parse(jsonOf(redrive))
    expect(r.redrive).toMatchObject({ status: 'COMPLETED', moved: 4, toMove: 4 })
    expect(jsonOf(redrive)).toMatchObject({ redriven: 4 })
    expect((await queue.depth()).visible).toBe(4)
    const status = await dialctl(['dlq', 'redrive', '--status', '--json'])
    expect(jsonOf(status)).toMatchObject({ redrive: { status: 'COMPLETED', moved: 4 } })
    // nothing to redrive is a success, not a failure (a runbook step run twice, #16)
    const empty = await dialctl(['dlq', 'redrive'])
    expect(empty.exitCode).toBe(0)
    expect(empty.stdout.trim()).toBe('DLQ empty: nothing to redrive.')
    const emptyJson = await dialctl(['dlq', 'redrive', '--json'])
    expect(emptyJson.exitCode).toBe(0)
    expect(jsonOf(emptyJson)).toEqual({ stage: 'local', redrive: null, redriven: 0 })

    await dlq.send('{"campaignId":"x"}')
    const refused = await dialctl(['dlq', 'purge'])
    expect(refused.exitCode).toBe(2)
    expect((await dlq.depth()).visible).toBe(1)
    const purge = await dialctl(['dlq', 'purge', '--force', '--json'])
    expect(jsonOf(purge)).toEqual({ stage: 'local', purged: 1 })
    expect((await dlq.depth()).visible).toBe(0)
    await queue.purge()
  })

  it('pipe status: exit 0 while running, 3 once stopped; pipe stop/start set the desired state', async () => {
    await registerPipe(
      db.pool,
      'test-pipe',
      {
        source: 'dial-tasks',
        filter: { phoneNumber: [{ exists: true }] },
        batchSize: 10,
        batchWindowSeconds: 5,
        concurrency: 1,
        enrichment: 'enrich-dial-task',
        target: 'dialer-worker',
      },
      'test-runner',
    )
    await setPipeCurrentState(db.pool, 'test-pipe', 'RUNNING')
    const heartbeat = () => db.pool.query(`UPDATE pipes SET heartbeat_at = now() WHERE name = 'test-pipe'`)
    await heartbeat()
    const ok = await dialctl(['pipe', 'status', '--json'])
    expect(ok.exitCode).toBe(0)
    const status = z
      .object({
        pipe: PipeDescription,
        queue: QueueDepth,
        dlq: QueueDepth,
        health: z.object({ healthy: z.boolean() }),
      })
      .parse(jsonOf(ok))
    expect(status.pipe).toMatchObject({
      name: 'test-pipe',
      state: 'RUNNING',
      desiredState: 'RUNNING',
      batchSize: 10,
    })
    expect(status.pipe.filter).toBe('{"phoneNumber":[{"exists":true}]}')
    expect(status.health.healthy).toBe(true)

    const stop = await dialctl(['pipe', 'stop', '--json'])
    expect(stop.exitCode).toBe(0)
    expect(jsonOf(stop)).toMatchObject({ pipe: { desiredState: 'STOPPED' }, waited: false })
    const { rows } = await db.pool.query(`SELECT desired_state FROM pipes WHERE name = 'test-pipe'`)
    expect(rows[0].desired_state).toBe('STOPPED')
    // stop when stopped: the state asked for holds, exit 0 (idempotent like dlq redrive, #16)
    const stopAgain = await dialctl(['pipe', 'stop', '--json'])
    expect(stopAgain.exitCode).toBe(0)
    expect(jsonOf(stopAgain)).toMatchObject({ pipe: { desiredState: 'STOPPED' } })

    // the runner follows: current state STOPPED → unhealthy, exit 3, with the JSON still printed
    await setPipeCurrentState(db.pool, 'test-pipe', 'STOPPED')
    const stopped = await dialctl(['pipe', 'status', '--json'])
    expect(stopped.exitCode).toBe(3)
    expect(jsonOf(stopped)).toMatchObject({
      health: { healthy: false, problems: ['pipe is STOPPED: dialctl pipe stop'] },
    })
    const human = await dialctl(['pipe', 'status'])
    expect(human.exitCode).toBe(3)
    expect(human.stdout).toContain('UNHEALTHY: pipe is STOPPED')

    // --wait with nobody to follow the desired state times out with a clear message
    const start = await dialctl(['pipe', 'start', '--wait', '--wait-timeout', '1'])
    expect(start.exitCode).toBe(1)
    expect(start.stderr).toContain('still STOPPED after 1 s')
  })

  it('load-test refuses a campaign not marked as test; sends reserved test numbers in batches', async () => {
    const refused = await dialctl(['load-test', '-n', '5', '--campaign', 'camp-1', '--no-follow'])
    expect(refused.exitCode).toBe(2)
    expect(refused.stderr).toContain('not marked as a test campaign')

    const { queue } = await ensureLocalQueues(db.pool)
    const run = await dialctl(['load-test', '-n', '25', '--no-follow', '--json'])
    expect(run.exitCode).toBe(0)
    const summary = LoadTestSummary.parse(jsonOf(run))
    expect(summary).toMatchObject({
      campaignId: 'load-test',
      requested: 25,
      sent: 25,
      sendFailures: 0,
      dialed: 0,
      waiting: 25,
      limit: 40,
    })
    const { rows } = await db.pool.query(`SELECT is_test, status FROM campaigns WHERE id = 'load-test'`)
    expect(rows[0]).toEqual({ is_test: true, status: 'active' })
    const messages = await queue.peek(100)
    expect(messages).toHaveLength(25)
    const tasks = messages.map((m) => JSON.parse(m.body) as { phoneNumber: string; contactId: string })
    expect(tasks.every((t) => isReservedTestNumber(t.phoneNumber))).toBe(true)
    expect(new Set(tasks.map((t) => t.contactId)).size).toBe(25)
    await queue.purge()

    // The summary speaks of deferral, as status and doctor do (docs/health.md): waiting for the limit is not failure.
    const text = await dialctl(['load-test', '-n', '5', '--no-follow'])
    expect(text.exitCode).toBe(0)
    expect(text.stdout).toMatch(
      /│ Sent +│ Dialed +│ Waiting +│ Not dialed +│ Re-queued for slot +│ Retried \(receive spent\) +│ DLQ +│/,
    )
    // not followed: the 5 sent are waiting (queued), said so — not lost, not "not dialed"
    expect(text.stdout).toMatch(/│ 5\/5 +│ 0 +│ 5 +│ 0 +│/)
    expect(text.stdout).toContain('Not followed (--no-follow): 5 task(s) waiting, with no outcome yet')
    expect(text.stdout).not.toMatch(/rate-limited/i)
    await queue.purge()
  })

  it('status --watch redraws whole screens: CPS vs limit, queue, DLQ, calls, answer rate, last changes', async () => {
    const run = await dialctl(['status', '--watch', '--count', '2', '--interval', '1'])
    expect(run.exitCode).toBe(0)
    const frames = run.stdout.split(/^dialctl status --watch · every 1s · .* UTC · Ctrl-C to stop$/m).slice(1)
    expect(frames).toHaveLength(2)
    for (const frame of frames) {
      expect(frame).toMatch(/^CPS +\d+ \/ \d+ cps/m)
      expect(frame).toMatch(/^DLQ +\d+ visible/m)
      expect(frame).toMatch(/^Calls +\d+ in progress · answered /m)
      expect(frame).toMatch(/^Last changes +(\d\d:\d\d:\d\d UTC limit|no limit change)/m)
    }
  })

  it('status and doctor: exit 3 and name the cause and the fix when something is wrong', async () => {
    expect((await dialctl(['pipe', 'stop'])).exitCode).toBe(0)
    await setPipeCurrentState(db.pool, 'test-pipe', 'STOPPED')
    const status = await dialctl(['status', '--json'])
    expect(status.exitCode).toBe(3)
    expect(jsonOf(status)).toMatchObject({ stage: 'local', healthy: false })

    const doctor = await dialctl(['doctor', '--json'])
    expect(doctor.exitCode).toBe(3)
    const report = DoctorReport.parse(jsonOf(doctor))
    const byId = Object.fromEntries(report.checks.map((c: z.infer<typeof Check>) => [c.id, c]))
    expect(byId.postgres!.status).toBe('ok')
    expect(byId.redis!.status).toBe('ok')
    expect(byId.worker).toMatchObject({ status: 'fail', fix: 'dialctl dev' })
    expect(byId['pipe-state']).toMatchObject({ status: 'fail', cause: 'the pipe was stopped (disabled)' })
    expect(byId['pipe-state']!.fix).toContain('dialctl pipe start --wait')
    const human = await dialctl(['doctor'])
    expect(human.stdout).toContain('fix:   dialctl pipe start --wait --stage local')
  })
})
