import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCampaignFileText } from '../../src/campaigns/campaign-file.js'
import { CampaignFile, campaignFileJsonSchema } from '../../src/contracts/campaign.js'
import { CampaignSummary } from '../../src/control/port.js'
import { validateCampaign } from '../../src/ivr/validate.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { createTestRedis, type TestRedis } from '../helpers/redis.js'
import { LoadTestSummary } from '../../src/control/load-test.js'
import { dialctl, jsonOf, ROOT } from './helpers.js'

const EXAMPLES = join(ROOT, 'examples')
const exampleFiles = readdirSync(EXAMPLES).filter((f) => f.endsWith('.jsonc'))

let db: TestDb
let redis: TestRedis
const saved = { ...process.env }

beforeAll(async () => {
  ;[db, redis] = await Promise.all([createTestDb('cmdfiles'), createTestRedis('cmdfiles')])
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_REDIS_PREFIX: redis.prefix,
    DIALCTL_STAGE: 'local',
    NO_COLOR: '1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  })
})

afterAll(async () => {
  process.env = saved
  await Promise.all([db.drop(), redis.cleanup()])
})

describe('campaign files (examples/, campaign schema, campaign create FILE)', () => {
  it('examples/ holds the three campaigns the README names', () => {
    expect(exampleFiles.sort()).toEqual([
      'donation-drive-jerusalem.jsonc',
      'load-test.jsonc',
      'us-multi-zone.jsonc',
    ])
  })

  it.each(exampleFiles)('%s is commented, parses as a campaign file and passes every IVR rule', (name) => {
    const text = readFileSync(join(EXAMPLES, name), 'utf8')
    expect(text).toMatch(/^\/\/ /) // explains itself
    const doc = parseCampaignFileText(text)
    expect(CampaignFile.safeParse(doc).success).toBe(true)
    const result = validateCampaign({ status: 'draft', type: 'voice', ...(doc as object) })
    expect(result.errors).toEqual([])
  })

  it('campaign create accepts each example as it is (FILE argument), and --file too', async () => {
    for (const name of exampleFiles) {
      const test = name === 'load-test.jsonc' ? ['--test'] : []
      // This machine cannot reach the media servers: the URL check is h4's, not this test's.
      const run = await dialctl([
        'campaign',
        'create',
        join(EXAMPLES, name),
        ...test,
        '--no-audio-check',
        '--json',
      ])
      expect(run.stderr).toBe('')
      expect(run.exitCode).toBe(0)
      const created = CampaignSummary.parse(jsonOf(run))
      expect(created.status).toBe('draft')
      expect(created.isTest).toBe(name === 'load-test.jsonc')
    }
    const { rows } = await db.pool.query<{ id: string; timezone: string }>(
      'SELECT id, timezone FROM campaigns ORDER BY id',
    )
    expect(rows).toEqual([
      { id: 'donation-drive-2024', timezone: 'Asia/Jerusalem' },
      { id: 'load-test-5min', timezone: 'UTC' },
      { id: 'us-spring-appeal', timezone: 'America/Chicago' },
    ])
    const dir = mkdtempSync(join(tmpdir(), 'dialctl-files-'))
    const copy = join(dir, 'copy.jsonc')
    writeFileSync(
      copy,
      readFileSync(join(EXAMPLES, 'load-test.jsonc'), 'utf8').replace(
        '"id": "load-test-5min"',
        '"id": "lt-2"',
      ),
    )
    expect((await dialctl(['campaign', 'create', '--file', copy, '--no-audio-check'])).exitCode).toBe(0)
  })

  it('a campaign id over 200 characters or with a control character is refused (every task carries it as a SafeId)', () => {
    const doc = parseCampaignFileText(readFileSync(join(EXAMPLES, exampleFiles[0]!), 'utf8')) as Record<
      string,
      unknown
    >
    expect(CampaignFile.safeParse({ ...doc, id: 'c'.repeat(200) }).success).toBe(true)
    const long = CampaignFile.safeParse({ ...doc, id: 'c'.repeat(201) })
    expect(long.success).toBe(false)
    expect(long.error?.issues[0]).toMatchObject({ path: ['id'] })
    expect(CampaignFile.safeParse({ ...doc, id: 'c\u001b[31m' }).error?.issues[0]).toMatchObject({
      path: ['id'],
      message: 'must not contain control characters',
    })
  })

  it('campaign create without a file says how (usage, exit 2); a broken file names the position', async () => {
    const none = await dialctl(['campaign', 'create'])
    expect(none.exitCode).toBe(2)
    expect(none.stderr).toContain('No campaign file given.')
    expect(none.stderr).toContain('→ Name one: dialctl campaign create examples/')
    const dir = mkdtempSync(join(tmpdir(), 'dialctl-files-'))
    const broken = join(dir, 'broken.jsonc')
    writeFileSync(broken, '{\n  // fine\n  "id": "x",,\n}\n')
    const bad = await dialctl(['campaign', 'create', broken])
    expect(bad.exitCode).toBe(1)
    expect(bad.stderr).toMatch(/broken\.jsonc is not valid JSON: .*(position|line)/)
  })

  it('campaign schema prints the JSON Schema generated from the zod schema; examples/ holds the same', async () => {
    const run = await dialctl(['campaign', 'schema'])
    expect(run.exitCode).toBe(0)
    const printed = JSON.parse(run.stdout) as Record<string, unknown>
    expect(printed).toEqual(campaignFileJsonSchema())
    expect(printed).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      type: 'object',
      required: expect.arrayContaining(['id', 'name', 'timezone', 'config']),
    })
    const config = (printed.properties as Record<string, { properties: Record<string, unknown> }>).config!
    expect(Object.keys(config.properties)).toEqual(
      expect.arrayContaining(['callingWindows', 'maxAttemptsPerContact', 'autoComplete']),
    )
    // The copy editors use is regenerated with the command above (a stale copy fails here).
    expect(JSON.parse(readFileSync(join(EXAMPLES, 'campaign.schema.json'), 'utf8'))).toEqual(printed)
  })

  it('the Next: line after campaign create says what the campaign needs: contacts from a FILE, or a load test for a test campaign', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dialctl-files-'))
    const copy = (name: string, id: string, from: string) => {
      const path = join(dir, `${id}.jsonc`)
      writeFileSync(
        path,
        readFileSync(join(EXAMPLES, name), 'utf8').replace(`"id": "${from}"`, `"id": "${id}"`),
      )
      return path
    }
    const real = await dialctl([
      'campaign',
      'create',
      copy('donation-drive-jerusalem.jsonc', 'next-real', 'donation-drive-2024'),
      '--no-audio-check',
    ])
    expect(real.exitCode).toBe(0)
    expect(real.stdout.trim().split('\n').at(-1)).toBe(
      'Next: dialctl contacts import --campaign next-real FILE (FILE: a CSV with a phone_number column, E.164), then dialctl campaign start next-real',
    )
    const test = await dialctl([
      'campaign',
      'create',
      copy('load-test.jsonc', 'next-test', 'load-test-5min'),
      '--test',
      '--no-audio-check',
    ])
    expect(test.exitCode).toBe(0)
    expect(test.stdout.trim().split('\n').at(-1)).toBe(
      'Next: dialctl load-test -n 100 --campaign next-test (it sends reserved test numbers as contacts and starts the draft)',
    )
  })

  it('examples/load-test.jsonc as its header says: created --test, then load-test --campaign starts the draft and sends its contacts', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dialctl-files-'))
    const path = join(dir, 'lt.jsonc')
    writeFileSync(
      path,
      readFileSync(join(EXAMPLES, 'load-test.jsonc'), 'utf8').replace(
        '"id": "load-test-5min"',
        '"id": "lt-doc"',
      ),
    )
    expect((await dialctl(['campaign', 'create', path, '--test', '--no-audio-check'])).exitCode).toBe(0)
    // no local stack has made its queues: refused before anything changes (the draft stays a draft)
    const early = await dialctl(['load-test', '-n', '12', '--campaign', 'lt-doc', '--no-follow'])
    expect(early.exitCode).toBe(1)
    expect(early.stderr).toContain('Start the local stack once')
    expect((await db.pool.query(`SELECT status FROM campaigns WHERE id = 'lt-doc'`)).rows[0]).toEqual({
      status: 'draft',
    })
    const { ensureLocalQueues } = await import('../../src/queue/pg-queue.js')
    await ensureLocalQueues(db.pool)
    const run = await dialctl(['load-test', '-n', '12', '--campaign', 'lt-doc', '--no-follow'])
    expect(run.stderr).toBe('')
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toMatch(
      /^✓ Campaign lt-doc: draft → active \(by .*: load-test run [0-9a-f]{8}: a test campaign gets its contacts from the run\)$/m,
    )
    expect(run.stdout).toMatch(/│ 12\/12 /)
    const { rows } = await db.pool.query<{ status: string; contacts: string }>(
      `SELECT status, (SELECT count(*) FROM contacts WHERE campaign_id = 'lt-doc') AS contacts FROM campaigns WHERE id = 'lt-doc'`,
    )
    expect(rows[0]).toEqual({ status: 'active', contacts: '12' })
    // a second run on the now active campaign: no transition line, the numbers continue
    const again = await dialctl(['load-test', '-n', '3', '--campaign', 'lt-doc', '--no-follow', '--json'])
    expect(again.exitCode).toBe(0)
    expect(LoadTestSummary.parse(jsonOf(again))).toMatchObject({
      campaignId: 'lt-doc',
      sent: 3,
      sendFailures: 0,
    })

    // paused by someone: refused with the resume command; completed: final, a new campaign
    expect((await dialctl(['campaign', 'pause', 'lt-doc', '--reason', 'test'])).exitCode).toBe(0)
    const paused = await dialctl(['load-test', '-n', '3', '--campaign', 'lt-doc', '--no-follow'])
    expect(paused.exitCode).toBe(1)
    expect(paused.stderr).toContain(
      'Test campaign "lt-doc" is paused: its tasks would be released, not dialed.',
    )
    expect(paused.stderr).toContain('→ Resume it: dialctl campaign resume lt-doc')
    expect((await dialctl(['campaign', 'complete', 'lt-doc', '--reason', 'test'])).exitCode).toBe(0)
    const closed = await dialctl(['load-test', '-n', '3', '--campaign', 'lt-doc', '--no-follow'])
    expect(closed.exitCode).toBe(1)
    expect(closed.stderr).toContain('→ completed is final: create another test campaign')
    // the contacts of the refused runs were never registered
    const { rows: after } = await db.pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM contacts WHERE campaign_id = 'lt-doc'`,
    )
    expect(after[0]!.n).toBe('15')
  })
})
