import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { saveCampaign } from '../../src/campaigns/repository.js'
import { nextWindowOpening } from '../../src/campaigns/window.js'
import { E164_FORMAT } from '../../src/contracts/index.js'
import { demoCampaign } from '../../src/local-stack/demo.js'
import { ensureLocalQueues, PgQueue } from '../../src/queue/pg-queue.js'
import { MAX_DIAL_TASK_BYTES } from '../../src/tasks/limits.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { dialctl, jsonOf } from './helpers.js'

let db: TestDb
const saved = { ...process.env }
let queue: PgQueue
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat']
/** the day of week two days from now in Honolulu (0 = Sunday) */
const laterDay = DAYS.indexOf(
  new Date(Date.now() + 2 * 86_400_000).toLocaleDateString('en-US', {
    timeZone: 'Pacific/Honolulu',
    weekday: 'short',
  }),
)

beforeAll(async () => {
  db = await createTestDb('cmdpush')
  ;({ queue } = await ensureLocalQueues(db.pool))
  // push now checks the campaign before sending (#15): the campaigns these tests push to exist
  const campaign = (id: string, status: string) => ({ ...structuredClone(demoCampaign), id, status })
  for (const [id, status] of [
    ['campaign-123', 'active'],
    ['demo', 'active'],
    ['c-draft', 'draft'],
    ['c-draft-ready', 'draft'],
    ['c-paused', 'paused'],
    ['c-done', 'completed'],
    ['c-cancelled', 'cancelled'],
  ] as const)
    await saveCampaign(db.pool, campaign(id, status), { mode: 'insert' })
  // open only two days from now in Honolulu, 09:00–17:00: closed whenever the test runs
  const night = campaign('c-later', 'active')
  night.config.callingWindows = [{ dayOfWeek: [laterDay], startHour: 9, endHour: 17 }]
  await saveCampaign(db.pool, night, { mode: 'insert' })
  // a test campaign starts empty (its contacts come with pushed tasks); a draft with a contact starts
  await saveCampaign(db.pool, campaign('c-draft-test', 'draft'), { mode: 'insert', isTest: true })
  await db.pool.query(
    "INSERT INTO contacts (campaign_id, id, phone_number, status, attempts) VALUES ('c-draft-ready', 'k1', '+12125550109', 'pending', 0)",
  )
  Object.assign(process.env, {
    ...db.env,
    DIALCTL_STAGE: 'local',
    NO_COLOR: '1',
    POWERTOOLS_LOG_LEVEL: 'WARN',
  })
})

afterAll(async () => {
  process.env = saved
  await db.drop()
})

describe('dialctl push (local stack)', () => {
  it('sends one seed-shaped task to the dial-tasks queue and prints its id with the phone masked', async () => {
    const run = await dialctl([
      'push',
      '--campaign',
      'campaign-123',
      '--phone',
      '+972501234567',
      '--contact',
      'contact-456',
      '--metadata',
      'firstName=John',
      '--metadata',
      'lastName=Doe',
    ])
    expect(run.exitCode).toBe(0)
    expect(run.stdout).toMatch(
      /^Sent dial task [0-9a-f-]{36} \(campaign campaign-123, contact contact-456, \+\*{10}67\) to stage local\./,
    )
    expect(run.stdout).not.toContain('+972501234567')
    const [message] = await queue.peek(10)
    expect(JSON.parse(message!.body)).toEqual({
      campaignId: 'campaign-123',
      contactId: 'contact-456',
      phoneNumber: '+972501234567',
      metadata: { firstName: 'John', lastName: 'Doe' },
      attempts: 0,
    })
  })

  it('--json gives the message id', async () => {
    const run = await dialctl(['push', '--campaign', 'demo', '--phone', '+12125550100', '--json'])
    expect(run.exitCode).toBe(0)
    const out = jsonOf(run) as { messageId: string; contactId: string; phoneNumber: string; stage: string }
    expect(out).toMatchObject({ stage: 'local', phoneNumber: '+*********00' })
    expect(out.contactId).toMatch(/^push-/)
    const ids = (await queue.peek(10)).map((m) => m.messageId)
    expect(ids).toContain(out.messageId)
  })

  it("a closed window: accepted (exit 0), saying when it opens for the callee, in their zone and the campaign's; --json carries it", async () => {
    const expected = nextWindowOpening(
      new Date(),
      [{ dayOfWeek: [laterDay], startHour: 9, endHour: 17 }],
      'Pacific/Honolulu',
    )
    const run = await dialctl([
      'push',
      '--campaign',
      'c-later',
      '--phone',
      '+12125550100',
      '--timezone',
      'Pacific/Honolulu',
    ])
    expect(run.exitCode).toBe(0)
    const day = DAYS[laterDay]
    expect(run.stdout).toMatch(
      new RegExp(
        `^Sent dial task .*\\nThe calling window is closed for this callee \\(Pacific/Honolulu, from the --timezone flag\\): accepted, it will be dialed when it opens, ${day} \\d\\d \\w+ 09:00 Pacific/Honolulu \\(in \\d+h\\d\\dm\\); campaign time \\w+ \\d\\d \\w+ \\d\\d:\\d\\d ${demoCampaign.timezone}\\.\\n$`,
      ),
    )
    const json = jsonOf(
      // each push its own number: the same number under a new push-… id is a conflict (issue #15)
      await dialctl([
        'push',
        '--campaign',
        'c-later',
        '--phone',
        '+12125550104',
        '--timezone',
        'Pacific/Honolulu',
        '--json',
      ]),
    ) as { window: unknown }
    expect(json.window).toEqual({
      open: false,
      opensAt: expected.toISOString(),
      never: false,
      calleeZones: ['Pacific/Honolulu'],
      zoneSource: 'contact',
      campaignTimezone: demoCampaign.timezone,
    })
    // without --timezone, the number's zone (+1 212: New York) is the callee's
    const byNumber = jsonOf(
      await dialctl(['push', '--campaign', 'c-later', '--phone', '+12125550105', '--json']),
    ) as {
      window: { calleeZones: string[]; zoneSource: string; open: boolean }
    }
    expect(byNumber.window).toMatchObject({
      calleeZones: ['America/New_York'],
      zoneSource: 'number',
      open: false,
    })
  })

  it('refuses a number that is not E.164, naming the field, with the usage exit code', async () => {
    const before = (await queue.depth()).visible
    const run = await dialctl(['push', '--campaign', 'demo', '--phone', '050-1234567'])
    expect(run.exitCode).toBe(2)
    expect(run.stderr + (run.error?.message ?? '')).toMatch(/phoneNumber: must be a valid E\.164/)
    // the hint describes the format: an example number would reach the operator masked (issue #15)
    expect(run.stderr).toContain(`must be a valid E.164 phone number: ${E164_FORMAT}.`)
    expect(run.stderr).not.toContain('*')
    expect((await queue.depth()).visible).toBe(before)
  })

  it.each([
    ['nope', /does not exist on stage local; nothing was sent/, /dialctl campaign list/],
    [
      'c-draft',
      /is draft and accepts no dial tasks/,
      /no contacts.*import them first \(dialctl contacts import --campaign c-draft FILE; .*\), then start it \(dialctl campaign start c-draft\)/,
    ],
    [
      'c-draft-ready',
      /is draft and accepts no dial tasks/,
      /Start it first: dialctl campaign start c-draft-ready$/m,
    ],
    [
      'c-draft-test',
      /is draft and accepts no dial tasks/,
      /Start it first: dialctl campaign start c-draft-test$/m,
    ],
    ['c-paused', /is paused and accepts no dial tasks/, /dialctl campaign resume c-paused/],
    ['c-done', /is completed and accepts no dial tasks/, /active campaign/],
    ['c-cancelled', /is cancelled and accepts no dial tasks/, /active campaign/],
  ])('refuses a task for campaign %s before sending it: exit 1 with what to do', async (id, what, todo) => {
    const before = (await queue.depth()).visible
    const run = await dialctl(['push', '--campaign', id, '--phone', '+12125550100'])
    expect(run.exitCode, run.stderr).toBe(1)
    expect(run.stderr).toMatch(what)
    expect(run.stderr).toMatch(todo)
    expect(run.stdout).not.toMatch(/Sent/)
    expect((await queue.depth()).visible).toBe(before)
  })

  it('the draft advice is true: start refuses the empty draft as push said, and takes the ones push told to start', async () => {
    const empty = await dialctl(['campaign', 'start', 'c-draft', '--no-audio-check', '--json'])
    expect(empty.exitCode).toBe(1)
    expect((jsonOf(empty) as { error: { code: string } }).error.code).toBe('NO_CONTACTS')
    for (const id of ['c-draft-ready', 'c-draft-test']) {
      const started = await dialctl(['campaign', 'start', id, '--no-audio-check'])
      expect(started.exitCode, started.stderr).toBe(0)
      const push = await dialctl(['push', '--campaign', id, '--phone', '+12125550100'])
      expect(push.exitCode, push.stderr).toBe(0)
    }
  })

  it('refuses a task larger than the worker accepts, naming the limit, before sending it', async () => {
    const before = (await queue.depth()).visible
    const big = 'x'.repeat(MAX_DIAL_TASK_BYTES)
    const run = await dialctl([
      'push',
      '--campaign',
      'demo',
      '--phone',
      '+12125550100',
      '--metadata',
      `note=${big}`,
    ])
    expect(run.exitCode).toBe(2)
    expect(run.stderr).toMatch(new RegExp(`too large: .*limit is ${MAX_DIAL_TASK_BYTES}`))
    expect(run.stderr).toMatch(/--metadata/)
    expect((await queue.depth()).visible).toBe(before)
  })

  // Issue #15, push's siblings of import's problems: an over-long id, and a contact that exists
  // with another number or attempt (the dial gate would refuse the task after "Sent").
  it('refuses a contact id over 200 characters, naming the field, before sending', async () => {
    const before = (await queue.depth()).visible
    const run = await dialctl([
      'push',
      '--campaign',
      'demo',
      '--phone',
      '+12125550101',
      '--contact',
      'k'.repeat(201),
    ])
    expect(run.exitCode).toBe(2)
    expect(run.stderr).toMatch(/contactId: .*200/)
    expect((await queue.depth()).visible).toBe(before)
  })

  it('refuses a contact that exists with another number or another attempt, sending nothing', async () => {
    const first = await dialctl([
      'push',
      '--campaign',
      'demo',
      '--phone',
      '+12125550102',
      '--contact',
      'dup-1',
    ])
    expect(first.exitCode).toBe(0)
    const before = (await queue.depth()).visible
    const other = await dialctl([
      'push',
      '--campaign',
      'demo',
      '--phone',
      '+12125550103',
      '--contact',
      'dup-1',
      '--json',
    ])
    expect(other.exitCode).toBe(2)
    expect(jsonOf(other)).toMatchObject({
      error: {
        code: 'PUSH_CONTACT_CONFLICT',
        message: expect.stringMatching(
          /contact dup-1 of campaign demo exists with another number \(\+\*{9}02\)/,
        ),
        suggestion: expect.stringMatching(/another --contact/),
      },
    })
    // the same number under another id: absorbed by contacts_phone_campaign_idx, refused by the gate
    const sameNumber = await dialctl([
      'push',
      '--campaign',
      'demo',
      '--phone',
      '+12125550102',
      '--contact',
      'dup-2',
      '--json',
    ])
    expect(sameNumber.exitCode).toBe(2)
    expect(jsonOf(sameNumber)).toMatchObject({
      error: {
        code: 'PUSH_CONTACT_CONFLICT',
        message: expect.stringMatching(/the number \+\*{9}02 is already contact dup-1 of campaign demo/),
        suggestion: expect.stringMatching(/--contact dup-1/),
      },
    })
    const attempt = await dialctl([
      'push',
      '--campaign',
      'demo',
      '--phone',
      '+12125550102',
      '--contact',
      'dup-1',
      '--attempts',
      '1',
    ])
    expect(attempt.exitCode).toBe(2)
    expect(attempt.stderr).toMatch(/exists at attempt 0 \(the task says 1\).*nothing was sent/)
    expect(attempt.stderr).toContain('--attempts 0')
    expect((await queue.depth()).visible).toBe(before)
    // the same contact, number and attempt again: accepted (the gate judges it as a redelivery)
    expect(
      (await dialctl(['push', '--campaign', 'demo', '--phone', '+12125550102', '--contact', 'dup-1']))
        .exitCode,
    ).toBe(0)
  })

  it("refuses --attempts at or past the campaign's maxAttemptsPerContact, naming both (usage, exit 2), sending nothing (#16)", async () => {
    const before = (await queue.depth()).visible
    const run = await dialctl([
      'push',
      '--campaign',
      'demo',
      '--phone',
      '+12125550120',
      '--attempts',
      '5',
      '--json',
    ])
    expect(run.exitCode).toBe(2)
    expect(jsonOf(run)).toMatchObject({
      error: {
        code: 'PUSH_ATTEMPTS_EXHAUSTED',
        message: expect.stringMatching(/--attempts 5 is not below campaign demo's maxAttemptsPerContact 3/),
      },
    })
    expect((await queue.depth()).visible).toBe(before)
    const { rows } = await db.pool.query(
      "SELECT 1 FROM contacts WHERE campaign_id = 'demo' AND phone_number = '+12125550120'",
    )
    expect(rows).toEqual([])
  })
})
