import { randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { STSClient } from '@aws-sdk/client-sts'
import { OperatorError } from '../errors.js'
import type { LambdaDataPort } from './aws-control-client.js'
import { UPLOAD_PREFIX, type ObjectImportResume } from './control-ops.js'
import type { ImportPosition, ImportTotals } from './import-position.js'
import type { FileImport } from './port.js'
import { putObject, S3_SINGLE_PUT_MAX_BYTES, s3EndpointFromEnv } from './s3-object.js'

/**
 * Files up to this size go inline: parsed by the CLI, rows sent in `contacts.import` Invokes of
 * IMPORT_CHUNK_ROWS each (a synchronous Invoke carries up to 6 MB each way — Lambda quotas,
 * "Invocation payload (request and response)"; the 256 KB limit is for asynchronous invocations,
 * which dialctl does not use). Above it, one upload to the stage bucket and one Invoke: the file
 * is parsed where the stores are, instead of one round trip per 2,000 rows.
 */
export const INLINE_IMPORT_MAX_BYTES = 1024 * 1024

/**
 * The CLI's half of a large import: PutObject of the file to the stage's upload bucket (under
 * UPLOAD_PREFIX, a fresh UUID key; s3:PutObject is the only S3 permission the operator needs;
 * the bucket expires uploads after a day), with progress, then `contacts.importObject`.
 */
export class S3ContactUploader {
  constructor(
    private readonly sts: STSClient,
    private readonly bucket: string,
    private readonly port: Pick<LambdaDataPort, 'importContactsObject'>,
  ) {}

  async importFile(file: FileImport): Promise<ImportTotals> {
    // Refused, not multipart: 5 GiB is ~90 million contacts, past any campaign (docs/deploy.md).
    if (file.size > S3_SINGLE_PUT_MAX_BYTES)
      throw new OperatorError(
        `${file.path} is ${(file.size / 1024 ** 3).toFixed(2)} GiB; one upload to the stage takes at most 5 GiB (S3's single PutObject limit).`,
        'Split it into parts under 5 GiB, each starting with the header line (GNU `split -C 4G` keeps lines whole), then import each part.',
        1,
        'FILE_TOO_LARGE',
      )
    file.onPhase?.(`uploading ${file.path} to the stage bucket`, 'Uploading')
    const key = `${UPLOAD_PREFIX}${randomUUID()}.csv`
    const endpoint = s3EndpointFromEnv()
    await putObject(
      { bucket: this.bucket, key, region: await this.sts.config.region(), ...(endpoint ? { endpoint } : {}) },
      createReadStream(file.path),
      file.size,
      {
        credentials: this.sts.config.credentials,
        ...(file.onProgress ? { onProgress: (sent: number) => file.onProgress!(sent, 0) } : {}),
      },
    )
    file.onPhase?.(
      file.strict
        ? 'uploaded; checking every row on the stage (--strict)'
        : 'uploaded; importing on the stage',
      'Importing',
    )
    return this.importSteps(file, key)
  }

  /**
   * The import of `key` by the control function, step after step: each Invoke imports until the
   * function's time runs low and answers with a continuation, sent back as is until the totals
   * come. Progress (bytes of the file, rows so far) after each step. Each step must move forward
   * (a later byte, or from the --strict check to the import): a step that does not is an error,
   * never a loop.
   */
  private async importSteps(file: FileImport, key: string): Promise<ImportTotals> {
    let resume: ObjectImportResume | null = null
    for (;;) {
      const step = await this.port.importContactsObject(file.campaignId, key, file.csv, file.strict, resume)
      if (step.done) {
        file.onProgress?.(file.size, step.totals.valid + step.totals.invalidCount)
        return step.totals
      }
      if (resume && !advanced(resume.position, step.resume.position))
        throw new OperatorError(
          `The stage's import of ${file.path} stopped twice at byte ${step.resume.position.at?.byteOffset ?? 0} without progress.`,
          "Run the command again (imported rows count as duplicates); if it persists, see the control function's log group in CloudWatch Logs.",
          1,
          'IMPORT_STALLED',
        )
      const checked =
        (resume?.position.phase ?? (file.strict ? 'check' : 'import')) !== step.resume.position.phase
      if (checked) file.onPhase?.('every row passed the --strict check; importing on the stage', 'Importing')
      resume = step.resume
      const { at, totals } = resume.position
      file.onProgress?.(at?.byteOffset ?? 0, totals.valid + totals.invalidCount)
    }
  }
}

/** `next` is further than `previous`: a later pass, or a later byte in the same pass. */
function advanced(previous: ImportPosition, next: ImportPosition): boolean {
  if (previous.phase !== next.phase) return next.phase === 'import'
  return (next.at?.byteOffset ?? 0) > (previous.at?.byteOffset ?? 0)
}
