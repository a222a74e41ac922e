import { randomUUID } from 'node:crypto'
import { errorMessage } from '../errors.js'
import type { ContactsCsvOptions } from './contacts-import.js'
import type { ObjectImportResume, ObjectImportStep } from './control-ops.js'
import { importCsvStep } from './import-stream.js'
import type { DataPort } from './port.js'
import { getObject, type S3CallOptions, type S3Object } from './s3-object.js'

export type { ObjectImportResume, ObjectImportStep } from './control-ops.js'

/** A contacts file the CLI uploaded to the stage's bucket, imported where the stores are, in steps. */
export interface ContactImportPort {
  /**
   * One step of the import of `key`: from the start (`resume` null) or from where the previous
   * step stopped. Returns the totals when the file is done, else the continuation to send back.
   */
  importContactsObject(
    campaignId: string,
    key: string,
    csv: ContactsCsvOptions,
    strict: boolean,
    resume: ObjectImportResume | null,
  ): Promise<ObjectImportStep>
}

export interface UploadBucket {
  bucket: string
  region: string
  endpoint?: string
}

/**
 * Time kept back from the Lambda's remaining time (Context.getRemainingTimeInMillis): a step takes
 * no new chunk once less than IMPORT_MARGIN_MS is left — enough to commit a chunk of 5,000 rows
 * (about a second; seconds with a slow database) and answer — and its read of S3 is cut at
 * IMPORT_READ_MARGIN_MS before the end, whatever the read is waiting on (the step then answers
 * with the last committed boundary). Lambda ends an invocation at its timeout without warning.
 */
export const IMPORT_MARGIN_MS = 60_000
export const IMPORT_READ_MARGIN_MS = 20_000

/**
 * The control function's half of a large import: it streams the object (s3:GetObject on the
 * upload prefix only, stacks/uploads.ts) through the same import loop the CLI runs on a local file
 * (importCsvStep), so refusals come back per line exactly as locally. Each invocation works until
 * `remainingMs` (the invocation's, from its Lambda context; absent: no limit) runs low, then
 * answers with a continuation; the next reads on from its byte (`Range`) on the same object
 * (`If-Match`). The key and the continuation were checked by the control API (UploadKey,
 * ObjectImportResume); the bucket is the function's own.
 */
export function s3ContactImports(
  data: Pick<DataPort, 'importContacts'>,
  bucket: UploadBucket | undefined,
  s3: Omit<S3CallOptions, 'timeoutMs'>,
  remainingMs?: () => number,
): ContactImportPort {
  return {
    async importContactsObject(campaignId, key, csv, strict, resume) {
      if (!bucket)
        throw new Error('the control function has no upload bucket (UPLOAD_BUCKET unset): redeploy the stage')
      const object: S3Object = { ...bucket, key }
      const read = new ObjectReader(object, s3, resume, remainingMs)
      // one id across the import's steps: a later step refuses a row an earlier step's row repeats
      const run = { id: resume?.importId ?? randomUUID() }
      try {
        const step = await importCsvStep(
          {
            campaignId,
            source: `the uploaded file (${key})`,
            csv,
            strict,
            open: (from) => read.from(from),
            save: (id, rows) => data.importContacts(id, rows, run),
            signal: read.signal,
            resumable: (error) => error instanceof UploadReadError,
            ...(remainingMs ? { remainingMs: () => remainingMs() - IMPORT_MARGIN_MS } : {}),
          },
          resume?.position ?? null,
        )
        if (step.done) return step
        return {
          done: false,
          resume: { key, campaignId, importId: run.id, ...read.identity(), position: step.position },
        }
      } finally {
        read.close()
      }
    },
  }
}

/** The read of an upload's body failed part-way (not by the step's own signal). */
export class UploadReadError extends Error {
  constructor(cause: unknown) {
    super(`the read of the upload failed part-way: ${errorMessage(cause)}`, { cause })
    this.name = 'UploadReadError'
  }
}

/** The reads of one step: the same object each time (If-Match), from a byte, cut at the step's end. */
class ObjectReader {
  private etag: string | undefined
  private size: number | undefined
  private readonly stop = new AbortController()
  readonly signal: AbortSignal

  constructor(
    private readonly object: S3Object,
    private readonly s3: Omit<S3CallOptions, 'timeoutMs'>,
    resume: ObjectImportResume | null,
    remainingMs?: () => number,
  ) {
    this.etag = resume?.etag
    this.size = resume?.size
    this.signal = remainingMs
      ? AbortSignal.any([
          this.stop.signal,
          AbortSignal.timeout(Math.max(1000, remainingMs() - IMPORT_READ_MARGIN_MS)),
        ])
      : this.stop.signal
  }

  /** The object from byte `from` to its end; nothing when `from` is its end (a boundary there). */
  async *from(from: number): AsyncGenerator<Buffer> {
    if (this.size !== undefined && from >= this.size) return
    const got = await getObject(this.object, {
      ...this.s3,
      ...(from > 0 ? { from } : {}),
      ...(this.etag ? { ifMatch: this.etag } : {}),
      signal: this.signal,
    })
    this.etag ??= got.etag
    this.size ??= got.size
    try {
      yield* got.body
    } catch (error) {
      // the body's connection failed (S3, or the network, dropped it): the next step reads again
      throw this.signal.aborted ? error : new UploadReadError(error)
    }
  }

  identity(): { etag: string; size: number } {
    if (this.etag === undefined || this.size === undefined)
      throw new Error('an import stopped before reading its object')
    return { etag: this.etag, size: this.size }
  }

  /** Ends a read still in flight (a step that stopped at a boundary leaves the rest unread). */
  close(): void {
    this.stop.abort()
  }
}
