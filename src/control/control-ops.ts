import { z } from 'zod'
import { DialTask, IanaTimeZone, SafeId } from '../contracts/index.js'
import {
  AuditReason,
  CampaignId,
  HistoryLimit,
  inputError,
  WindowMinutes,
} from '../contracts/operator-input.js'
import type { OperatorError } from '../errors.js'
import { SettableCpsLimit } from '../pacing/settable-limit.js'
import { ContactRows } from './contact-row.js'
import { ImportPosition, ImportTotals } from './import-position.js'
import { S3_SINGLE_PUT_MAX_BYTES } from './s3-object.js'
import type { CampaignMove } from './port.js'

/**
 * The control API's operations and the strict schema of each one's arguments — the same domain
 * schemas the CLI checks its input with (src/contracts/operator-input.ts, SettableCpsLimit in
 * src/pacing, the contact rules of src/contracts/contact-row.ts, DialTask): the function trusts no
 * caller, and a refused argument comes back as a usage error naming it and the command to run.
 * Arguments are positional, as JSON (Dates as ISO strings, Maps as entry lists).
 */

const Move = z.enum(['start', 'pause', 'resume', 'complete', 'cancel'] satisfies CampaignMove[])
/** the actor argument the CLI still sends: ignored, the function records the caller STS names */
const Ignored = z.string().max(200)
const Source = z.enum(['cli', 'auto', 'pacer'])

/** SetLimitOptions (src/pacing/limit-store.ts) on the wire: the hold of `cps set`, the pacer's respect of it. */
const SetLimitOptionsSchema = z
  .object({
    hold: z.object({ untilMs: z.number().int().positive().nullable() }).strict().optional(),
    respectHold: z.object({ safety: z.boolean() }).strict().optional(),
  })
  .strict()

/** The most contact results one call returns (see RESULTS_PAGE_ROWS in aws-control-client.ts). */
export const RESULTS_PAGE_MAX = 2000

/** Keys the CLI uploads contacts files under; the function reads nothing else from the bucket. */
export const UPLOAD_PREFIX = 'contacts-uploads/'
export const UploadKey = z
  .string()
  .regex(/^contacts-uploads\/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.csv$/, {
    error: `must be an upload key dialctl made (${UPLOAD_PREFIX}<uuid>.csv)`,
  })

/**
 * The continuation of `contacts.importObject`: the function returns it when its time is nearly up
 * (Lambda's 15 minutes) and the CLI sends it back, unchanged, to go on. It comes back from the
 * caller, so it is checked like any argument and bound to the call: its key and campaign must be
 * the call's (a continuation moved to another key is refused before anything is read), and the
 * object is read with If-Match on its ETag, so it is the same object, byte for byte, that the
 * boundary was found in. It holds no location of its own: the bucket is the function's, the key
 * is the upload prefix's (UploadKey).
 */
export const ObjectImportResume = z
  .object({
    key: UploadKey,
    campaignId: CampaignId,
    /** this import's id, recorded on the contacts it inserts (insertContacts' ImportRun) */
    importId: z.uuid(),
    etag: z.string().min(1).max(200),
    /** the object's size in bytes: a boundary at its end needs no read */
    size: z.number().int().nonnegative().max(S3_SINGLE_PUT_MAX_BYTES),
    position: ImportPosition,
  })
  .strict()
export type ObjectImportResume = z.infer<typeof ObjectImportResume>

/** The answer to `contacts.importObject`: the import's totals, or where to go on from. */
export const ObjectImportStep = z.discriminatedUnion('done', [
  z.object({ done: z.literal(true), totals: ImportTotals }).strict(),
  z.object({ done: z.literal(false), resume: ObjectImportResume }).strict(),
])
export type ObjectImportStep = z.infer<typeof ObjectImportStep>

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/
const ColumnName = z
  .string()
  .min(1)
  .max(200)
  .refine((s) => !CONTROL_CHARS.test(s), { error: 'holds a control character' })
export const CsvOptionsSchema = z
  .object({
    delimiter: z
      .string()
      .length(1)
      .refine((d) => !/["\r\n]/.test(d), { error: 'must not be a quote or a line break' })
      .optional(),
    phoneColumn: ColumnName.optional(),
    idColumn: ColumnName.optional(),
    timezoneColumn: ColumnName.optional(),
  })
  .strict()

const PushEntrySchema = z
  .object({
    id: SafeId,
    task: DialTask,
    timezone: IanaTimeZone.optional(),
  })
  .strict()

interface OpSpec<T extends z.ZodType> {
  args: T
  /** the arguments' names, for an error an operator can read */
  names: string[]
  /** the command that makes this call, with its rules: the next thing to run */
  next: string
}
const op = <T extends z.ZodType>(args: T, names: string[], next: string): OpSpec<T> => ({ args, names, next })

export const OPS = {
  'pacing.get': op(z.tuple([]), [], 'dialctl cps get'),
  'pacing.set': op(
    z.tuple([SettableCpsLimit, AuditReason, Ignored, Source.optional(), SetLimitOptionsSchema.optional()]),
    ['limit', '--reason', 'actor', 'source', 'options'],
    'dialctl cps set N --reason "…" (N from 1 to 10000, a one-line reason)',
  ),
  'pacing.resume': op(z.tuple([AuditReason]), ['--reason'], 'dialctl cps auto --resume --reason "…"'),
  'pacing.history': op(z.tuple([HistoryLimit]), ['--limit'], 'dialctl cps history --limit N (1–1000)'),
  'campaign.list': op(z.tuple([]), [], 'dialctl campaign list'),
  'campaign.show': op(z.tuple([CampaignId]), ['campaign id'], 'dialctl campaign list, then campaign show ID'),
  'campaign.media': op(
    z.tuple([WindowMinutes, CampaignId.optional()]),
    ['window minutes', 'campaign id'],
    'dialctl doctor',
  ),
  'campaign.transition': op(
    z.tuple([CampaignId, Move, AuditReason.nullable(), Ignored]),
    ['campaign id', 'move', '--reason', 'actor'],
    'dialctl campaign list, then campaign pause|resume|… ID --reason "…"',
  ),
  'campaign.create': op(
    // the document itself is validated whole by createCampaign (every problem, naming field and node)
    z.tuple([
      z
        .object({
          campaign: z.record(z.string(), z.unknown()),
          isTest: z.boolean().optional(),
          actor: Ignored,
        })
        .strict(),
    ]),
    ['campaign'],
    'dialctl campaign create --file campaign.json',
  ),
  'campaign.report': op(z.tuple([CampaignId]), ['campaign id'], 'dialctl campaign report ID'),
  'campaign.contactResults': op(
    z.tuple([CampaignId, SafeId.nullable(), z.number().int().min(1).max(RESULTS_PAGE_MAX)]),
    ['campaign id', 'after', 'page size'],
    'dialctl campaign report ID --format csv',
  ),
  // each row's rules (the CSV reader's, src/contracts/contact-row.ts) are asserted by importContacts
  'contacts.import': op(
    z.tuple([CampaignId, ContactRows]),
    ['--campaign', 'rows'],
    'dialctl contacts import --campaign ID FILE',
  ),
  'contacts.importObject': op(
    z
      .tuple([
        CampaignId,
        UploadKey,
        CsvOptionsSchema,
        z.boolean(),
        ObjectImportResume.nullable().default(null),
      ])
      .superRefine(([campaignId, key, , , resume], ctx) => {
        if (resume && resume.key !== key)
          ctx.addIssue({ code: 'custom', path: [4, 'key'], message: 'is not the upload this call imports' })
        if (resume && resume.campaignId !== campaignId)
          ctx.addIssue({
            code: 'custom',
            path: [4, 'campaignId'],
            message: 'is not the campaign this call imports into',
          })
      }),
    ['--campaign', 'upload key', 'CSV options', '--strict', 'continuation'],
    'dialctl contacts import --campaign ID FILE',
  ),
  'contacts.registerPushed': op(
    z.tuple([z.array(PushEntrySchema).max(10_000)]),
    ['tasks'],
    'dialctl push --campaign ID --phone +E164',
  ),
  'run.progress': op(
    z.tuple([CampaignId, SafeId, z.iso.datetime(), z.array(z.tuple([SafeId, z.number().nonnegative()]))]),
    ['campaign id', 'contact prefix', 'since', 'sent at'],
    'dialctl load-test',
  ),
  'outcomes.answerRate': op(
    z.tuple([WindowMinutes]),
    ['window minutes'],
    'dialctl cps auto --once --dry-run',
  ),
  'outcomes.recent': op(z.tuple([WindowMinutes]), ['window minutes'], 'dialctl doctor'),
  'stores.ping': op(z.tuple([]), [], 'dialctl doctor'),
} as const
export type ControlOp = keyof typeof OPS
export type OpArgs<K extends ControlOp> = z.infer<(typeof OPS)[K]['args']>

/**
 * `raw` parsed for `op`, or an OperatorError (exit 2, INVALID_INPUT) naming the argument as the
 * operator knows it (`--reason`, `limit`, `rows.3.phoneNumber`) and the command to run.
 */
export function parseOpArgs<K extends ControlOp>(op: K, raw: unknown[]): OpArgs<K> {
  const spec = OPS[op]
  const parsed = spec.args.safeParse(raw)
  if (parsed.success) return parsed.data as OpArgs<K>
  const problems = parsed.error.issues.slice(0, 5).map((issue) => {
    const [index, ...rest] = issue.path
    const name = typeof index === 'number' ? (spec.names[index] ?? `argument ${index + 1}`) : 'arguments'
    return `${[name, ...rest.map(String)].join('.')} ${issue.message}`
  })
  // the rule only, never the value: a refused phone number is not echoed into a log
  const error: OperatorError = inputError(
    `The stage refused ${op}: ${problems.join('; ')}`,
    `Run ${spec.next}.`,
  )
  throw error
}
