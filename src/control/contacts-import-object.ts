import type { ContactsCsvOptions } from './contacts-import.js'
import { importCsvStream, type ImportTotals } from './import-stream.js'
import type { DataPort } from './port.js'
import { getObject, type S3CallOptions, type S3Object } from './s3-object.js'

/** A contacts file the CLI uploaded to the stage's bucket, imported where the stores are. */
export interface ContactImportPort {
  importContactsObject(
    campaignId: string,
    key: string,
    csv: ContactsCsvOptions,
    strict: boolean,
  ): Promise<ImportTotals>
}

export interface UploadBucket {
  bucket: string
  region: string
  endpoint?: string
}

/**
 * The control function's half of a large import: it streams the object (s3:GetObject on the
 * upload prefix only, stacks/uploads.ts) through the same import loop the CLI runs on a local file
 * (importCsvStream), so refusals come back per line exactly as locally. The key was checked
 * against the upload prefix by the control API (UploadKey); the bucket is the function's own.
 */
export function s3ContactImports(
  data: Pick<DataPort, 'importContacts'>,
  bucket: UploadBucket | undefined,
  s3: Omit<S3CallOptions, 'timeoutMs'>,
): ContactImportPort {
  return {
    async importContactsObject(campaignId, key, csv, strict) {
      if (!bucket)
        throw new Error('the control function has no upload bucket (UPLOAD_BUCKET unset): redeploy the stage')
      const object: S3Object = { ...bucket, key }
      // read twice under --strict (a validation pass, then the import): fetched once per pass
      const bodies: AsyncIterable<Buffer>[] = []
      bodies.push(await getObject(object, s3))
      return importCsvStream({
        campaignId,
        source: `the uploaded file (${key})`,
        csv,
        strict,
        open: () => bodies.shift() ?? lazyBody(object, s3),
        save: (id, rows) => data.importContacts(id, rows),
      })
    },
  }
}

async function* lazyBody(object: S3Object, s3: Omit<S3CallOptions, 'timeoutMs'>): AsyncGenerator<Buffer> {
  yield* await getObject(object, s3)
}
