import { readdirSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCampaignFileText } from '../../src/campaigns/campaign-file.js'
import { CampaignFile, campaignFileJsonSchema } from '../../src/contracts/campaign.js'
import { CampaignSummary } from '../../src/control/port.js'
import { validateCampaign } from '../../src/ivr/validate.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { dialctl, jsonOf, ROOT } from './helpers.js'

const EXAMPLES = join(ROOT, 'examples')
const exampleFiles = readdirSync(EXAMPLES).filter((f) => f.endsWith('.jsonc'))

let db: TestDb
const saved = { ...process.env }

beforeAll(async () => {
  db = await createTestDb('cmdfiles')
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
})
