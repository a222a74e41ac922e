import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { OperatorError } from '../../src/errors.js'
import { callIdFor, DialCommand, DialTask } from '../../src/contracts/index.js'
import { insertContacts, parseContactsCsv } from '../../src/control/contacts-import.js'
import { enrichBatch } from '../../src/enrich/enrich-batch.js'
import { validateCampaign } from '../../src/ivr/validate.js'
import { demoCampaign } from '../../src/local-stack/demo.js'
import type { LocalStack } from '../../local/stack.js'
import { createLogger } from '../../src/observability/logger.js'
import { buildDialTask } from '../../src/tasks/build-task.js'
import { testNumber } from '../../src/tasks/test-numbers.js'
import { dialctl } from '../commands/helpers.js'
import {
  captureOutput,
  checkConservation,
  openScenario,
  scanLogs,
  startStack,
  taskKey,
  waitDrained,
  type Pushed,
  type ScenarioEnv,
} from './helpers/harness.js'
import { recordResult } from './helpers/results.js'

/**
 * Bad input everywhere input enters: queue bodies through the running pipe, enrichment batches,
 * campaign files, contact CSVs, POST /dial bodies and headers, CLI flags. Property-based (fast-check,
 * fixed seeds so a failure replays): never a crash, a clear per-item error naming the field, and
 * nothing valid lost.
 */
const SEED = 20_261_126
const TASK_FIELDS = ['campaignId', 'contactId', 'phoneNumber', 'metadata', 'attempts'] as const

describe('fault: bad input (property-based)', () => {
  let env: ScenarioEnv
  let stack: LocalStack | undefined
  const token = randomBytes(24).toString('base64url')
  const logs = captureOutput()
  const phones: string[] = []

  beforeAll(async () => {
    env = await openScenario('fuzz')
    stack = await startStack(env, { maxCps: 100, retryBaseSeconds: 1 }, { WORKER_TOKEN: token })
  })

  afterAll(async () => {
    await stack?.stop()
    logs.stop()
    await env?.cleanup()
  })

  it('queue bodies: invalid ones filtered or dropped with a reason, valid ones dialed once, no crash', async () => {
    const started = Date.now()
    const valid = (i: number): DialTask => ({
      campaignId: 'demo',
      contactId: `fz-${i}`,
      phoneNumber: testNumber(700 + i),
      attempts: 0,
    })
    // a valid task with one field replaced by anything JSON can hold
    const mutated = fc
      .tuple(fc.nat({ max: 10_000 }), fc.constantFrom(...TASK_FIELDS, 'extra'), fc.jsonValue())
      .map(([i, field, value]) => JSON.stringify({ ...valid(1000 + i), [field]: value }))
    const bodyArb = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      mutated,
      fc.nat({ max: 10_000 }).map((i) => JSON.stringify(valid(2000 + i))),
    )
    const bodies = fc.sample(bodyArb, { numRuns: 200, seed: SEED })
    const sentinel = valid(9999)
    // The dial gate dials only contacts that exist with the task's number (issue #11): create the
    // contacts the valid tasks name, first number wins; the others must be refused with a reason.
    const named = [...bodies, JSON.stringify(sentinel)].flatMap((b) => {
      const t = parseTask(b)
      return t && t.campaignId === 'demo' ? [t] : []
    })
    await env.db.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts)
       SELECT 'demo', id, phone, 'queued', 0 FROM unnest($1::text[], $2::text[]) AS t(id, phone)
       ON CONFLICT DO NOTHING`,
      [named.map((t) => t.contactId), named.map((t) => t.phoneNumber)],
    )
    const { rows: contactRows } = await env.db.query<{ id: string; phone_number: string }>(
      `SELECT id, phone_number FROM contacts WHERE campaign_id = 'demo'`,
    )
    const phoneOf = new Map(contactRows.map((r) => [r.id, r.phone_number]))
    const pushed: Pushed[] = []
    let rejectedAtSend = 0
    for (const body of bodies) {
      try {
        const { messageId } = await stack!.queue.send(body)
        const task = parseTask(body)
        if (task) phones.push(task.phoneNumber)
        pushed.push({ body, messageId, ...(task ? { key: taskKey(task) } : {}) })
      } catch (error) {
        // the queue refuses what SQS refuses (empty body, characters SQS does not accept), saying why
        expect((error as Error).message).toMatch(/body/)
        rejectedAtSend++
      }
    }
    // and one known-good task last: the pipeline still works after all that
    phones.push(sentinel.phoneNumber)
    const last = await stack!.queue.send(JSON.stringify(sentinel))
    pushed.push({ body: JSON.stringify(sentinel), messageId: last.messageId, key: taskKey(sentinel) })

    await waitDrained(env.db, { timeoutMs: 120_000 })
    await stack!.worker.idle()
    const c = await checkConservation(env.db, pushed)
    recordResult({
      scenario: 'fuzz: queue bodies through the pipe',
      tasks: pushed.length,
      outcomes: c.outcomes,
      lost: c.lost.length,
      duplicated: c.duplicated.length,
      seconds: (Date.now() - started) / 1000,
      note: `200 fast-check bodies (seed ${SEED}) + 1 sentinel; ${rejectedAtSend} refused at send (SQS body rules)`,
    })
    expect(c.lost).toEqual([])
    expect(c.duplicated).toEqual([])
    expect(c.conflicts).toEqual([])
    expect(c.remaining).toBe(0)
    expect(c.outcomes.dlq ?? 0).toBe(0)
    // exactly the valid tasks of existing contacts (their number, their next attempt) were dialed
    const expected = new Set(
      pushed.flatMap((p) => {
        const t = parseTask(p.body)
        return t && t.campaignId === 'demo' && phoneOf.get(t.contactId) === t.phoneNumber && t.attempts === 0
          ? [`${taskKey(t)}:${t.attempts}`]
          : []
      }),
    )
    const { rows } = await env.db.query<{ k: string }>(
      `SELECT campaign_id || ':' || contact_id || ':' || attempt AS k FROM call_attempts`,
    )
    expect(new Set(rows.map((r) => r.k))).toEqual(expected)
    expect(expected.has(`${taskKey(sentinel)}:0`)).toBe(true)
    // every drop says why
    for (const [key, reason] of c.reasons) expect(reason.length, key).toBeGreaterThan(0)
  })

  it('enrichment batches of arbitrary records: never throws, keeps exactly the valid ones', async () => {
    const record = fc.oneof(
      fc.anything(),
      fc.record({ messageId: fc.string({ minLength: 1 }), body: fc.oneof(fc.string(), fc.json()) }),
      fc.record({
        messageId: fc.uuid(),
        body: fc.nat({ max: 99 }).map((i) =>
          JSON.stringify({
            campaignId: 'demo',
            contactId: `en-${i}`,
            phoneNumber: testNumber(800 + i),
            attempts: 0,
          }),
        ),
      }),
    )
    const logger = createLogger('enrich-fuzz', { level: 'SILENT' })
    let runs = 0
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 10 }), async (batch) => {
        runs++
        const out = await enrichBatch(batch, { db: env.db, logger })
        const validIds = batch.flatMap((r) => {
          const rec = r as { messageId?: unknown; body?: unknown }
          if (typeof rec?.messageId !== 'string' || rec.messageId === '' || typeof rec.body !== 'string')
            return []
          const t = parseTask(rec.body)
          return t && t.campaignId === 'demo' ? [rec.messageId] : []
        })
        expect(out.map((e) => e.messageId)).toEqual(validIds)
      }),
      { numRuns: 150, seed: SEED },
    )
    recordResult({
      scenario: 'fuzz: enrichment batches',
      tasks: runs,
      outcomes: { 'batches ok': runs },
      lost: 0,
      duplicated: 0,
      seconds: 0,
      note: 'arbitrary records per batch: valid ones kept, the rest dropped with a reason, no throw',
    })
  })

  it('campaign files: validateCampaign never throws; errors name the field at fault', () => {
    fc.assert(
      fc.property(fc.anything(), (doc) => {
        const r = validateCampaign(doc)
        if (r.ok) return
        expect(r.errors.length).toBeGreaterThan(0)
        for (const e of r.errors) {
          expect(e.path.length).toBeGreaterThan(0)
          expect(e.message.length).toBeGreaterThan(0)
        }
      }),
      { numRuns: 300, seed: SEED },
    )
    // one field of a valid campaign given a value of the wrong type: the error points at it
    const fields: [string, fc.Arbitrary<unknown>][] = [
      ['id', fc.oneof(fc.constant(''), fc.integer(), fc.constant(null))],
      ['name', fc.oneof(fc.constant(''), fc.boolean(), fc.constant(null))],
      ['type', fc.string().filter((s) => s !== 'voice')],
      [
        'status',
        fc.string().filter((s) => !['draft', 'active', 'paused', 'completed', 'cancelled'].includes(s)),
      ],
      ['timezone', fc.oneof(fc.constant('Mars/Olympus'), fc.integer(), fc.constant(null))],
      ['config.audioFileUrl', fc.oneof(fc.constant(''), fc.integer(), fc.constant(null))],
      [
        'config.maxConcurrentCalls',
        fc.oneof(fc.integer({ max: 0 }), fc.string(), fc.double({ min: 0.1, max: 0.9 })),
      ],
      ['config.maxAttemptsPerContact', fc.oneof(fc.integer({ max: 0 }), fc.string(), fc.constant(null))],
      ['config.callingWindows', fc.oneof(fc.constant([]), fc.string(), fc.constant(null))],
      ['config.ivrFlow.startNodeId', fc.oneof(fc.integer(), fc.constant(null))],
      ['config.ivrFlow.nodes', fc.oneof(fc.string(), fc.integer(), fc.constant(null))],
    ]
    fc.assert(
      fc.property(
        fc.oneof(...fields.map(([path, value]) => value.map((v) => [path, v] as const))),
        ([path, value]) => {
          const doc = setPath(structuredClone(demoCampaign), path, value)
          const r = validateCampaign(doc)
          expect(r.ok).toBe(false)
          expect(
            r.errors.some((e) => e.path === path || e.path.startsWith(`${path}.`)),
            `${path}: ${JSON.stringify(r.errors)}`,
          ).toBe(true)
        },
      ),
      { numRuns: 200, seed: SEED },
    )
    recordResult({
      scenario: 'fuzz: campaign files',
      tasks: 500,
      outcomes: { 'no throw': 500 },
      lost: 0,
      duplicated: 0,
      seconds: 0,
      note: '300 arbitrary documents + 200 single-field corruptions: each error names its path',
    })
  })

  it('contact CSVs: never throws; each data line imported or reported by line and field; nothing valid lost', async () => {
    // Junk without '"': under RFC 4180 (csv-parse, issue #15) a stray quote opens a field that may
    // legitimately run over the following lines, so per-line accounting holds for quote-free junk;
    // quoted line breaks have their own table test (test/unit/contacts-csv.test.ts).
    const junk = fc.string({ maxLength: 60 }).map((s) => s.replace(/[\r\n"]/g, ' '))
    const line = fc.oneof(
      fc.tuple(fc.nat({ max: 9999 }), fc.string({ maxLength: 20 })).map(([i, note]) => ({
        valid: true as const,
        id: `csv-${i}`,
        phone: testNumber(i),
        text: `csv-${i},${testNumber(i)},"${note.replace(/[\r\n]/g, ' ').replaceAll('"', '""')}"`,
      })),
      junk.map((text) => ({ valid: false as const, text })),
    )
    let lastParsed: ReturnType<typeof parseContactsCsv> | undefined
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), (lines) => {
        const text = ['id,phone_number,note', ...lines.map((l) => l.text)].join('\n')
        const parsed = parseContactsCsv(text)
        lastParsed = parsed
        const dataLines = lines.map((l, i) => ({ ...l, line: i + 2 })).filter((l) => l.text.trim() !== '')
        // every non-blank data line is accounted for exactly once
        const seen = [...parsed.rows.map((r) => r.line), ...parsed.invalid.map((e) => e.line)].sort(
          (a, b) => a - b,
        )
        expect(seen).toEqual(dataLines.map((l) => l.line))
        // nothing valid lost: the first line of each contact is imported, a later line with the
        // same id or number is refused naming it (issue #15's duplicate policy: first wins)
        const firstLine = new Map<string, number>()
        for (const l of dataLines.filter((d) => d.valid)) {
          const row = parsed.rows.find((r) => r.line === l.line)
          const earlier = firstLine.get(l.id)
          if (earlier === undefined) {
            firstLine.set(l.id, l.line)
            expect(row, `line ${l.line}`).toMatchObject({ id: l.id, phoneNumber: l.phone })
          } else {
            expect(row, `line ${l.line}`).toBeUndefined()
            expect(parsed.invalid.find((e) => e.line === l.line)?.message).toMatch(
              new RegExp(`^duplicates line ${earlier} `),
            )
          }
        }
        for (const e of parsed.invalid) {
          expect(e.field.length).toBeGreaterThan(0)
          expect(e.message.length).toBeGreaterThan(0)
          expect(e.message).not.toMatch(/\+1\d{10}/)
        }
      }),
      { numRuns: 300, seed: SEED },
    )
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (text) => {
        const parsed = parseContactsCsv(text)
        expect(Array.isArray(parsed.rows) && Array.isArray(parsed.invalid)).toBe(true)
      }),
      { numRuns: 300, seed: SEED },
    )
    // and the last parsed file imports: each row inserted or counted as a duplicate
    const rows = lastParsed?.rows ?? []
    const result = await insertContacts(env.db, 'demo', rows)
    expect(result.imported + result.duplicates).toBe(rows.length)
    recordResult({
      scenario: 'fuzz: contact CSV imports',
      tasks: 600,
      outcomes: { 'no throw': 600 },
      lost: 0,
      duplicated: 0,
      seconds: 0,
      note: '300 CSVs mixing valid and junk lines + 300 arbitrary texts; every line imported or reported (line, field)',
    })
  })

  it('POST /dial: random bodies and headers get 400/401/413, never 5xx; nothing invalid is dialed', async () => {
    const url = `${stack!.workerUrl}/dial`
    // 100 contacts exist (the dial gate dials only existing contacts at their next attempt)
    await env.db.query(
      `INSERT INTO contacts (campaign_id, id, phone_number, status, attempts)
       SELECT 'demo', 'dz-' || k, phone, 'queued', 0 FROM unnest($1::text[]) WITH ORDINALITY AS t(phone, k1),
              LATERAL (SELECT (k1 - 1)::int AS k) kk
       ON CONFLICT DO NOTHING`,
      [Array.from({ length: 100 }, (_, k) => testNumber(900 + k))],
    )
    const base = (i: number) => ({
      callId: callIdFor({ campaignId: 'demo', contactId: `dz-${i % 100}`, attempts: 0 }),
      phoneNumber: testNumber(900 + (i % 100)),
      campaignId: 'demo',
      contactId: `dz-${i % 100}`,
      audioFileUrl: demoCampaign.config.audioFileUrl,
      ivrFlow: demoCampaign.config.ivrFlow,
      attempt: 0,
    })
    const body = fc.oneof(
      fc.nat({ max: 99_999 }).map((i) => JSON.stringify(base(i))),
      fc.string({ maxLength: 200 }),
      fc.json({ maxDepth: 3 }),
      fc
        .tuple(
          fc.nat({ max: 99_999 }),
          fc.constantFrom('callId', 'phoneNumber', 'campaignId', 'ivrFlow', 'attempt'),
          fc.jsonValue(),
        )
        .map(([i, field, value]) => JSON.stringify({ ...base(i), [field]: value })),
    )
    const auth = fc.oneof(
      { arbitrary: fc.constant<string | undefined>(`Bearer ${token}`), weight: 4 },
      fc.constant<string | undefined>(undefined),
      fc.string({ maxLength: 40 }).map((s) => `Bearer ${s}`),
      fc.constant<string | undefined>(`Basic ${token}`),
      fc.constant<string | undefined>(`Bearer ${token.slice(0, -1)}`),
    )
    const { rows: before } = await env.db.query<{ n: string }>('SELECT count(*) AS n FROM call_attempts')
    const statuses: Record<string, number> = {}
    let accepted = 0
    await fc.assert(
      fc.asyncProperty(body, auth, async (text, authorization) => {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
          body: text,
        })
        await res.text()
        statuses[res.status] = (statuses[res.status] ?? 0) + 1
        expect(res.status).toBeLessThan(500)
        let json: unknown
        try {
          json = JSON.parse(text)
        } catch {
          json = undefined
        }
        if (authorization !== `Bearer ${token}`) {
          expect(res.status).toBe(401)
        } else if (DialCommand.safeParse(json).success) {
          // 409: the dial gate refuses a command for a contact that does not exist (issue #11)
          expect([200, 202, 409]).toContain(res.status)
          if (res.status === 202) accepted++
        } else {
          expect(res.status).toBe(400)
        }
      }),
      { numRuns: 200, seed: SEED },
    )
    await stack!.worker.idle()
    const { rows: after } = await env.db.query<{ n: string }>('SELECT count(*) AS n FROM call_attempts')
    expect(Number(after[0]!.n) - Number(before[0]!.n)).toBe(accepted)
    recordResult({
      scenario: 'fuzz: POST /dial bodies and tokens',
      tasks: 200,
      outcomes: Object.fromEntries(Object.entries(statuses).map(([s, n]) => [`HTTP ${s}`, n])),
      lost: 0,
      duplicated: 0,
      seconds: 0,
      note: `never 5xx; ${accepted} valid commands with the right token dialed, nothing else`,
    })
    expect(accepted).toBeGreaterThan(0)
    expect(statuses[401] ?? 0).toBeGreaterThan(0)
    expect(statuses[400] ?? 0).toBeGreaterThan(0)
  })

  it('CLI input: buildDialTask and `cps set` refuse bad flags with a usage error naming the flag', async () => {
    fc.assert(
      fc.property(
        fc.record({
          campaignId: fc.oneof(fc.string(), fc.constant('demo')),
          phoneNumber: fc.oneof(fc.string(), fc.nat({ max: 999 }).map(testNumber), fc.constant('+1')),
          contactId: fc.option(fc.string(), { nil: undefined }),
          metadata: fc.array(fc.string({ maxLength: 12 }), { maxLength: 3 }),
          attempts: fc.option(fc.integer({ min: -5, max: 5 }), { nil: undefined }),
        }),
        (input) => {
          try {
            const task = buildDialTask(input)
            expect(DialTask.safeParse(task).success).toBe(true)
          } catch (error) {
            expect(error).toBeInstanceOf(OperatorError)
            const e = error as OperatorError
            expect(e.exitCode).toBe(2)
            expect(e.message).toMatch(/--metadata|campaignId|contactId|phoneNumber|attempts/)
            expect(e.message).not.toMatch(/\+1\d{10}/)
          }
        },
      ),
      { numRuns: 300, seed: SEED },
    )

    const saved = { ...process.env }
    Object.assign(process.env, {
      DATABASE_SCHEMA: env.schema,
      DIALCTL_REDIS_PREFIX: env.prefix,
      DIALCTL_HOME: `/tmp/dialctl-faults-cli-${env.schema}`,
    })
    const badLimits = fc.sample(
      fc.oneof(
        fc.integer({ min: -1000, max: 0 }).map(String),
        fc.integer({ min: 501, max: 1_000_000 }).map(String),
        fc
          .string({ minLength: 1, maxLength: 8 })
          .filter((s) => !/^\s*-?\d+\s*$/.test(s) && !s.startsWith('-')),
        fc.double({ min: 0.1, max: 400, noInteger: true }).map(String),
      ),
      { numRuns: 25, seed: SEED },
    )
    try {
      for (const limit of badLimits) {
        const run = await dialctl(['cps', 'set', limit, '--reason', 'fuzz'])
        expect(run.exitCode, `cps set ${JSON.stringify(limit)}: ${run.stderr}`).toBe(2)
      }
    } finally {
      process.env = saved
    }
    // nothing reached the live limit
    expect(await env.testRedis.redis.get(`${env.prefix}cps:limit`)).toBeNull()
    recordResult({
      scenario: 'fuzz: CLI flags',
      tasks: 300 + badLimits.length,
      outcomes: { 'usage errors': badLimits.length },
      lost: 0,
      duplicated: 0,
      seconds: 0,
      note: `300 buildDialTask inputs (valid → task, else exit 2 naming the flag); ${badLimits.length} bad \`cps set\` limits → exit 2, limit untouched`,
    })
    expect(scanLogs(logs.text(), phones, [token])).toEqual([])
  })
})

function parseTask(body: string): DialTask | undefined {
  try {
    const parsed = DialTask.safeParse(JSON.parse(body))
    return parsed.success ? parsed.data : undefined
  } catch {
    return undefined
  }
}

function setPath(doc: unknown, path: string, value: unknown): unknown {
  const parts = path.split('.')
  let node = doc as Record<string, unknown>
  for (const p of parts.slice(0, -1)) node = node[p] as Record<string, unknown>
  node[parts[parts.length - 1]!] = value
  return doc
}
