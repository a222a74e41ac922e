import { describe, expect, it } from 'vitest'
import { OperatorError } from '../../src/errors.js'
import { buildDialTask, parseMetadataPairs } from '../../src/tasks/build-task.js'

describe('buildDialTask', () => {
  it('builds a seed-shaped task from flags', () => {
    const task = buildDialTask({
      campaignId: 'demo',
      phoneNumber: '+972501234567',
      contactId: 'c-1',
      metadata: ['firstName=John', 'note=a=b'],
    })
    expect(task).toEqual({
      campaignId: 'demo',
      contactId: 'c-1',
      phoneNumber: '+972501234567',
      metadata: { firstName: 'John', note: 'a=b' },
      attempts: 0,
    })
  })

  it('generates a contact id when none is given', () => {
    expect(buildDialTask({ campaignId: 'demo', phoneNumber: '+972501234567' }).contactId).toMatch(/^push-/)
  })

  it('names the bad field and exits with the usage code', () => {
    try {
      buildDialTask({ campaignId: 'demo', phoneNumber: '0501234567' })
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(OperatorError)
      expect((error as OperatorError).message).toContain('phoneNumber: must be a valid E.164')
      expect((error as OperatorError).exitCode).toBe(2)
    }
    expect(() => parseMetadataPairs(['novalue'])).toThrow(/not a key=value pair/)
  })
})
