/**
 * Imported first by the command base: modules shared with the pipeline create their Powertools
 * loggers at load time and log INFO to stdout, which would interleave with tables and break
 * `--json`. For a CLI run only warnings and errors are shown, unless the operator asks for more
 * (POWERTOOLS_LOG_LEVEL / LOG_LEVEL).
 */
if (process.env.POWERTOOLS_LOG_LEVEL === undefined && process.env.LOG_LEVEL === undefined)
  process.env.POWERTOOLS_LOG_LEVEL = 'WARN'

export {}
