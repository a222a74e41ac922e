import { OperatorError } from '../cli/operator-error.js'

/**
 * Loads a module built by another part of dialctl that may not be in this build yet. A missing
 * module becomes an OperatorError naming the feature, instead of a crash at CLI start-up: every
 * other command keeps working.
 */
export async function loadOptional<T>(specifier: string, feature: string): Promise<T> {
  try {
    return (await import(/* @vite-ignore */ specifier)) as T
  } catch (error) {
    const e = error as { code?: string; message?: string }
    const missing =
      e.code === 'ERR_MODULE_NOT_FOUND' ||
      /Cannot find module|Failed to load url|Does the file exist/i.test(e.message ?? '')
    if (missing && (e.message ?? '').includes(specifier.replace(/^(\.\.\/)+/, '').replace(/\.js$/, ''))) {
      throw notAvailable(feature)
    }
    throw error
  }
}

export function notAvailable(feature: string): OperatorError {
  return new OperatorError(
    `${feature} is not available yet in this build of dialctl.`,
    'Update dialctl (git pull && npm run build) or use the AWS stage for this operation.',
    1,
    'NOT_AVAILABLE',
  )
}
