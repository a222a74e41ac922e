import stripJsonComments from 'strip-json-comments'

/**
 * Campaign files are JSON with comments (JSONC: `//` and `/* *\/` comments, trailing commas), the
 * format editors such as VS Code validate against a `$schema`; comments are what make the files in
 * examples/ self-explaining. strip-json-comments keeps line and column numbers (it blanks the
 * comments out), so JSON.parse's position still points into the file the operator edits.
 *
 * Returns the parsed value; throws SyntaxError (with the position) for text that is not JSON.
 */
export function parseCampaignFileText(text: string): unknown {
  return JSON.parse(stripJsonComments(text.replace(/^\uFEFF/, ''), { trailingCommas: true }))
}
