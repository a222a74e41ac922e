/**
 * Imported first by the command base: modules shared with the pipeline create their Powertools
 * loggers at load time and log INFO to stdout, which would interleave with tables and break
 * `--json`. For a CLI run only warnings and errors are shown, unless the operator asks for more
 * (POWERTOOLS_LOG_LEVEL / LOG_LEVEL).
 */
if (process.env.POWERTOOLS_LOG_LEVEL === undefined && process.env.LOG_LEVEL === undefined)
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN'

export {}

// The AWS SDK prints an 8-line NodeVersionSupportWarning on Node < 22 before any output of ours
// (stderr, every AWS command). Our Node policy is in the README (Node ≥ 20.11, as Lambda's
// nodejs20.x); an operator at 3 a.m. needs the error, not this. Their documented switch:
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'
