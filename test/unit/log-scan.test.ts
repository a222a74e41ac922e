import { Console } from 'node:console'
import { Writable } from 'node:stream'
import { Logger } from '@aws-lambda-powertools/logger'
import { afterEach, describe, expect, it } from 'vitest'
import { createLogger, setLogDestination } from '../../src/observability/logger.js'
import { findPhoneLeaks } from '../helpers/log-scan.js'

/**
 * The log scan must be real (issue #15): the same log calls, through a Powertools logger without
 * dialctl's masking, give a leak for every form; through createLogger (masking on), none.
 */
const phone = '+12125550101'
const forms: [string, Record<string, unknown>][] = [
  ['E.164 in a field', { phoneNumber: phone }],
  ['contact id equal to the number, with +', { contactId: phone }],
  ['contact id equal to the number, without +', { contactId: '12125550101' }],
  ['digits inside an id', { contactId: 'crm-2125550101' }],
  ['the call id built from it', { callId: 'call-demo-c-12125550101-1705318245000-1' }],
  ['national with dashes', { note: 'called 212-555-0101' }],
  ['national with parentheses', { note: '(212) 555-0101' }],
  ['national with dots', { note: '212.555.0101' }],
  ['national with spaces', { note: '212 555 0101' }],
  ['the local 7 digits', { note: '555-0101' }],
  ['an error message carrying it', { error: `dial ${phone} refused: 486 busy` }],
]

function sink(): { stream: Writable; text(): string } {
  const chunks: string[] = []
  return {
    stream: new Writable({
      write(chunk: Buffer, _e, done) {
        chunks.push(chunk.toString('utf8'))
        done()
      },
    }),
    text: () => chunks.join(''),
  }
}

afterEach(() => setLogDestination(undefined))

describe('log scan', () => {
  it.each(forms)('finds %s in a log line written without masking', (_what, fields) => {
    const out = sink()
    const unmasked = new Logger({ serviceName: 'dialctl', persistentKeys: { component: 'test' } })
    ;(unmasked as unknown as { console: Console }).console = new Console({
      stdout: out.stream,
      stderr: out.stream,
    })
    unmasked.info('dialing', fields)
    expect(findPhoneLeaks(out.text()).length, out.text()).toBeGreaterThan(0)
  })

  it.each(forms)('finds nothing of %s once dialctl masks the line', (_what, fields) => {
    const out = sink()
    setLogDestination(out.stream)
    createLogger('test').info('dialing', fields)
    expect(out.text()).toMatch(/"message":"dialing"/)
    expect(findPhoneLeaks(out.text())).toEqual([])
  })

  it('finds a mask that keeps more than 2 digits, and numbers a test passes outside the reserved range', () => {
    expect(findPhoneLeaks('{"phone":"+*******0101"}')).toEqual([expect.objectContaining({ kind: 'mask' })])
    expect(findPhoneLeaks('{"phone":"+*********01"}')).toEqual([])
    expect(findPhoneLeaks('dial 0044 20 7946 0958', ['+442079460958'])).toHaveLength(1)
    expect(findPhoneLeaks('dial 07946 0958', ['+442079460958'])).toHaveLength(1)
  })

  it('does not flag what is not a number: timestamps, counts, durations, ports', () => {
    const line =
      '{"level":"INFO","message":"dispatched","timestamp":"2026-11-30T21:06:29.123Z","queued":101,"capacity":555,"ms":5550,"url":"http://127.0.0.1:55501/dial"}'
    expect(findPhoneLeaks(line)).toEqual([])
  })
})
