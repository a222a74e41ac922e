import { stat } from 'node:fs/promises'
import { usageError } from '../errors.js'

/**
 * Checks that `path`, an input file named on the command line (`what`: "CSV file", "campaign
 * file"), is a regular file this process can stat, before anything reads it: a directory or a
 * missing path is a usage error naming the path (exit 2, code BAD_FILE), never a raw EISDIR /
 * ENOENT from a read half-way through the command (issue #16). Returns its size in bytes.
 */
export async function inputFile(path: string, what: string, example: string): Promise<number> {
  let info: Awaited<ReturnType<typeof stat>>
  try {
    info = await stat(path)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw usageError(
      code === 'ENOENT' ? `${path} does not exist.` : `Cannot read ${path} (${code ?? String(error)}).`,
      `Check the path; give the ${what}, e.g. ${example}.`,
      'BAD_FILE',
    )
  }
  if (!info.isFile())
    throw usageError(
      `${path} is ${info.isDirectory() ? 'a directory' : 'not a regular file'}; a ${what} is needed.`,
      `Name one file${info.isDirectory() ? ` in it (ls ${path})` : ''}, e.g. ${example}.`,
      'BAD_FILE',
    )
  return info.size
}
