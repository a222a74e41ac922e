import { randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import type { STSClient } from '@aws-sdk/client-sts'
import { OperatorError } from '../errors.js'
import type { LambdaDataPort } from './aws-control-client.js'
import { UPLOAD_PREFIX } from './control-ops.js'
import type { ImportTotals } from './import-stream.js'
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
    if (file.size > S3_SINGLE_PUT_MAX_BYTES)
      throw new OperatorError(
        `${file.path} is ${(file.size / 1024 ** 3).toFixed(1)} GB; one upload takes at most 5 GB.`,
        'Split the file (e.g. `split -l 5000000`, repeating the header line), then import each part.',
        1,
        'FILE_TOO_LARGE',
      )
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
    file.onPhase?.('importing on the stage')
    return this.port.importContactsObject(file.campaignId, key, file.csv, file.strict)
  }
}
