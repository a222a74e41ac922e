import { OperatorError } from '../errors.js'

/** Turns AWS SDK errors into what an operator can act on. */
export function explainAwsError(error: unknown): OperatorError | undefined {
  const e = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } }
  if (!e?.name) return undefined
  if (e.name === 'CredentialsProviderError' || /Could not load credentials/i.test(e.message ?? ''))
    return new OperatorError(
      'No AWS credentials found.',
      'Run `aws sso login --profile NAME` and pass --profile NAME, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.',
      1,
      'AWS_CREDENTIALS',
    )
  if (/AccessDenied|UnauthorizedOperation|not authorized/i.test(`${e.name} ${e.message}`))
    return new OperatorError(
      `AWS refused the call: ${e.message}`,
      'Use a profile whose role may operate this stage (--profile), or ask for the missing IAM permission named above.',
      1,
      'AWS_ACCESS_DENIED',
    )
  if (
    e.name === 'NotFoundException' ||
    e.name === 'ResourceNotFoundException' ||
    /NonExistentQueue/.test(e.name)
  )
    return new OperatorError(
      `A resource of this stage was not found: ${e.message}`,
      'Check --stage and --region; the stage may not be deployed (sst deploy --stage NAME).',
      1,
      'AWS_NOT_FOUND',
    )
  if (e.name === 'ConflictException' && /pipe/i.test(e.message ?? ''))
    return new OperatorError(
      `The pipe is busy: ${e.message}`,
      'Wait until `dialctl pipe status` shows a stable state, then retry.',
      1,
      'AWS_CONFLICT',
    )
  if (e.name === 'ResourceConflictException' || e.name === 'PreconditionFailedException')
    return new OperatorError(
      `The dialer function changed while we updated it: ${e.message}`,
      'Run the command again; it re-reads the current variables and merges MAX_CPS into them.',
      1,
      'AWS_CONFLICT',
    )
  return undefined
}
