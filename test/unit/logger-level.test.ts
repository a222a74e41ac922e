import { Writable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { Logger } from '@aws-lambda-powertools/logger'
import { createLogger, logsAt, setLogDestination } from '../../src/observability/logger.js'

/**
 * createLogger returns at once from calls below the level (issue #17: Powertools read the
 * environment on each of them first); what is printed must stay what Powertools would print,
 * including a level changed after creation.
 */
function capture(): { lines: () => Array<{ level: string; message: string }> } {
  const chunks: string[] = []
  setLogDestination(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk.toString())
        done()
      },
    }),
  )
  return {
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { level: string; message: string }),
  }
}

afterEach(() => setLogDestination(undefined))

describe('createLogger levels', () => {
  it('prints at and above its level only, as Powertools does', () => {
    const out = capture()
    const logger = createLogger('t', { level: 'WARN' })
    logger.debug('d')
    logger.info('i')
    logger.warn('w')
    logger.error('e')
    expect(out.lines().map((l) => [l.level, l.message])).toEqual([
      ['WARN', 'w'],
      ['ERROR', 'e'],
    ])
  })

  it('follows a level set after creation, both ways', () => {
    const out = capture()
    const logger = createLogger('t', { level: 'ERROR' })
    logger.info('hidden')
    logger.setLogLevel('DEBUG')
    logger.debug('d')
    logger.info('i')
    logger.setLogLevel('WARN')
    logger.info('hidden again')
    logger.warn('w')
    expect(out.lines().map((l) => l.message)).toEqual(['d', 'i', 'w'])
  })

  it('logsAt says what the logger prints, a level set later included', () => {
    const out = capture()
    const logger = createLogger('t', { level: 'ERROR' })
    expect([logsAt(logger, 'debug'), logsAt(logger, 'info')]).toEqual([false, false])
    logger.setLogLevel('INFO')
    expect([logsAt(logger, 'debug'), logsAt(logger, 'info')]).toEqual([false, true])
    logger.setLogLevel('DEBUG')
    expect([logsAt(logger, 'trace'), logsAt(logger, 'debug')]).toEqual([false, true])
    expect(() => logger.setLogLevel('LOUD' as 'INFO')).toThrow(/Invalid log level/)
    logger.debug('still debug')
    expect(out.lines().map((l) => l.message)).toEqual(['still debug'])
  })

  it('logsAt of a logger createLogger did not make is true: its caller builds the context', () => {
    expect(logsAt(new Logger({ logLevel: 'ERROR' }), 'info')).toBe(true)
  })

  it('keeps the masking of an info line it prints', () => {
    const out = capture()
    createLogger('t', { level: 'INFO' }).info('dialing', { phoneNumber: '+972501234567' })
    const [line] = out.lines() as Array<{ phoneNumber?: string }>
    expect(line!.phoneNumber).toBe('+**********67')
  })
})
