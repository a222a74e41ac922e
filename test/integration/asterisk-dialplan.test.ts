import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IvrFlow } from '../../src/contracts/ivr.js'
import { createLogger } from '../../src/observability/logger.js'
import { createWorker, type Worker } from '../../worker/app.js'
import { createAriDriver, type AriDriver } from '../../worker/drivers/ari/index.js'
import { createTestDb, type TestDb } from '../helpers/db.js'
import { fakeAriDriverConfig } from './worker-fixtures.js'
import { startFakeAri, type CalleeScript, type FakeAriServer } from '../helpers/fake-ari-server.js'
import { seedCampaign, seedFlow } from '../helpers/fixtures.js'

/**
 * docs/asterisk.md's test dialplan, line by line: each `[dialctl-callee]` extension is turned into
 * the callee script whose ARI events Asterisk 22 sends for those applications (recorded in
 * /work/shared/ari-events), dialed through the worker, and its row checked against the outcome
 * table in the same document. A new extension the test cannot translate fails the test, so the
 * docs cannot drift from what is tested.
 */

const DOC = readFileSync(new URL('../../docs/asterisk.md', import.meta.url), 'utf8')
/** Wait(n) seconds in the dialplan → n × SCALE ms here */
const SCALE = 100

function calleeExtensions(doc: string): Map<string, string[]> {
  const start = doc.indexOf('[dialctl-callee]')
  expect(start, 'docs/asterisk.md has a [dialctl-callee] context').toBeGreaterThan(0)
  const block = doc.slice(start, doc.indexOf('```', start))
  const extensions = new Map<string, string[]>()
  let current: string[] | undefined
  for (const line of block.split('\n').slice(1)) {
    const exten = /^exten => (\d),1,(.+)$/.exec(line.trim())
    const same = /^same => n,(.+)$/.exec(line.trim())
    if (exten) {
      current = [exten[2]!]
      extensions.set(exten[1]!, current)
    } else if (same && current) {
      current.push(same[1]!)
    } else if (line.trim() && !line.trim().startsWith(';')) {
      throw new Error(`test cannot read dialplan line: ${line}`)
    }
  }
  return extensions
}

/** What the applications make Asterisk send (see the recordings named in each branch). */
function scriptFor(apps: string[]): CalleeScript {
  const [first, ...rest] = apps
  if (first === 'Busy(5)') return { kind: 'busy' } // busy-via-Busy-app.jsonl
  if (first === 'Congestion(5)') return { kind: 'congestion' } // congestion-via-Congestion-app.jsonl
  const hangup = /^Hangup\((\d+)\)$/.exec(first ?? '')
  if (hangup && rest.length === 0) {
    const cause = Number(hangup[1])
    // busy-via-Hangup-17.jsonl: Dial BUSY, cause 17 on our channel
    return { kind: 'reject', cause, dialStatus: cause === 17 ? 'BUSY' : 'CHANUNAVAIL' }
  }
  if (first === 'Ringing()' && rest.every((a) => /^Wait\(\d+\)$/.test(a))) return { kind: 'no-answer' } // no-answer-ring-timeout.jsonl
  if (first === 'Answer()') {
    const script: Extract<CalleeScript, { kind: 'answer' }> = { kind: 'answer', afterMs: 10, digits: [] }
    let t = 0
    for (const app of rest) {
      const wait = /^Wait\((\d+)\)$/.exec(app)
      const dtmf = /^SendDTMF\((\d)\)$/.exec(app)
      if (wait) t += Number(wait[1]) * SCALE
      else if (dtmf) script.digits!.push({ digit: dtmf[1]!, afterMs: t })
      else if (app === 'Hangup()') script.hangupAfterMs = t
      else throw new Error(`test cannot simulate ${app}`)
    }
    return script
  }
  throw new Error(`test cannot simulate an extension starting with ${first}`)
}

interface Expected {
  status: string
  hangup_cause: number
  digit: string | null
  contact: string
}

function outcomeTable(doc: string): Map<string, Expected> {
  const start = doc.indexOf('<!-- dialplan-outcomes:start -->')
  const end = doc.indexOf('<!-- dialplan-outcomes:end -->')
  expect(start).toBeGreaterThan(0)
  const rows = doc
    .slice(start, end)
    .split('\n')
    .filter((l) => /^\|\s*\d\s*\|/.test(l))
  const table = new Map<string, Expected>()
  for (const row of rows) {
    const [digit, , status, cause, pressed, contact] = row
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim().replaceAll('`', ''))
    table.set(digit!, {
      status: status!,
      hangup_cause: Number(cause),
      digit: pressed === '—' ? null : pressed!,
      contact: contact!,
    })
  }
  return table
}

const TOKEN = 'dialplan-token-0123456789abcdef'
const CAMPAIGN = 'camp-dialplan'
// the seed's flow with 1 s captures, to keep the suite quick
const FLOW: IvrFlow = (() => {
  const flow = IvrFlow.parse(seedFlow())
  return { ...flow, nodes: flow.nodes.map((n) => (n.type === 'capture_input' ? { ...n, timeout: 1 } : n)) }
})()
const quiet = (component: string) => createLogger(component, { level: 'SILENT' })

let tdb: TestDb
let fake: FakeAriServer
let driver: AriDriver
let worker: Worker
let base = ''

beforeAll(async () => {
  tdb = await createTestDb('asterisk_dialplan')
  await tdb.pool.query(
    `INSERT INTO campaigns (id, name, status, config, timezone) VALUES ($1, 'dialplan', 'active', $2, 'Asia/Jerusalem')`,
    [
      CAMPAIGN,
      JSON.stringify({
        ...seedCampaign().config,
        ivrFlow: FLOW,
        callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4, 5, 6], startHour: 0, endHour: 24 }],
      }),
    ],
  )
  fake = await startFakeAri({ playbackMs: 50 })
  driver = createAriDriver(
    fakeAriDriverConfig(fake, {
      app: 'dialctl-dialplan',
      endpointTemplate: 'Local/{digits}@dialctl-test',
      ringGraceMs: 500,
    }),
    {
      logger: quiet('ari-driver'),
    },
  )
  expect(await driver.waitConnected(5_000)).toBe(true)
  worker = createWorker({
    db: tdb.pool,
    driver,
    token: TOKEN,
    workerId: 'w-dialplan',
    caps: { maxActiveCalls: 20 },
    logger: quiet('worker'),
    call: { ringTimeoutSeconds: 1, recordRetryDelaysMs: [] },
  })
  base = `http://127.0.0.1:${await worker.listen(0, '127.0.0.1')}`
})
afterAll(async () => {
  await worker?.close()
  await driver?.close()
  await fake?.stop()
  await tdb.drop()
})

describe('docs/asterisk.md test dialplan', () => {
  const extensions = calleeExtensions(DOC)
  const table = outcomeTable(DOC)

  it('documents an outcome for every extension, and an extension for every outcome', () => {
    expect([...extensions.keys()].sort()).toEqual([...table.keys()].sort())
    expect(extensions.size).toBeGreaterThanOrEqual(9)
    // the dispatch line: exact last-digit dispatch, no greedy `_X.N` patterns
    expect(DOC).toContain('exten => _X.,1,Goto(dialctl-callee,${EXTEN:-1},1)')
    expect(DOC).not.toMatch(/exten => _X\.\d/)
  })

  it('every extension records the documented outcome, hang-up cause, digit and contact state', async () => {
    const dialed: Array<{ last: string; contactId: string }> = []
    for (const [last, apps] of extensions) {
      const contactId = `dp-${last}`
      const phoneNumber = `+97250444000${last}`
      await tdb.pool.query(
        `INSERT INTO contacts (campaign_id, id, phone_number, status) VALUES ($1, $2, $3, 'queued')`,
        [CAMPAIGN, contactId, phoneNumber],
      )
      fake.onNumber(phoneNumber, scriptFor(apps))
      const res = await fetch(`${base}/dial`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          callId: `call-${CAMPAIGN}-${contactId}-0`,
          phoneNumber,
          campaignId: CAMPAIGN,
          contactId,
          audioFileUrl: 'http://media.example/appeal-8khz.wav',
          ivrFlow: FLOW,
          metadata: {},
          attempt: 0,
        }),
      })
      expect(res.status).toBe(202)
      dialed.push({ last, contactId })
    }
    await worker.idle()
    const { rows } = await tdb.pool.query<Expected & { contact_id: string }>(
      `SELECT a.contact_id, a.status, a.hangup_cause, a.digit, c.status AS contact
         FROM call_attempts a JOIN contacts c ON c.campaign_id = a.campaign_id AND c.id = a.contact_id
        WHERE a.campaign_id = $1`,
      [CAMPAIGN],
    )
    const actual = Object.fromEntries(
      dialed.map(({ last, contactId }) => {
        const { contact_id: _id, ...row } = rows.find((r) => r.contact_id === contactId)!
        return [last, row]
      }),
    )
    expect(actual).toEqual(Object.fromEntries(table))
  })
})
