import type { z } from 'zod'

/** "field.path: message; other: message" — names the field so an operator can fix the input. */
export function describeZodError(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ')
}
