import { STSClient } from '@aws-sdk/client-sts'
import { describe, expect, it } from 'vitest'
import { presignCallerProof } from '../../src/control/caller-presign.js'
import { verifyCallerProof, type CallerProof } from '../../src/control/caller-proof.js'
import { OperatorError } from '../../src/errors.js'
import { fakeSts } from '../helpers/fake-sts.js'

/**
 * The caller's identity is what STS says about a request the caller signed (Vault's AWS IAM auth
 * pattern): the CLI presigns GetCallerIdentity, the control function executes it. Signing is real
 * (the SDK's SigV4 with the operator's credentials); STS is a fake that checks the signature.
 */
const JANE = {
  secretAccessKey: 'jane-secret',
  arn: 'arn:aws:sts::123456789012:assumed-role/oncall/jane',
  account: '123456789012',
  userId: 'AROAEXAMPLE:jane',
}
const NOW = new Date('2026-11-30T23:00:00.000Z')
const sts = new STSClient({
  region: 'eu-west-1',
  credentials: { accessKeyId: 'AKIAJANEEXAMPLE00001', secretAccessKey: JANE.secretAccessKey },
})
const opts = (
  fetch: typeof globalThis.fetch,
  over: Partial<{ region: string; stage: string; now: Date }> = {},
) => ({
  region: over.region ?? 'eu-west-1',
  stage: over.stage ?? 'prod',
  fetch,
  now: () => over.now ?? NOW,
})

async function refusal(promise: Promise<unknown>): Promise<OperatorError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(OperatorError)
  return error as OperatorError
}

describe('caller proof: presigned sts:GetCallerIdentity', () => {
  it('the function executes exactly one GET against its regional STS and gets the signer ARN', async () => {
    const fake = fakeSts({ AKIAJANEEXAMPLE00001: JANE })
    const proof = await presignCallerProof(sts, 'prod', NOW)
    expect(Object.keys(proof).sort()).toEqual([
      'X-Amz-Algorithm',
      'X-Amz-Credential',
      'X-Amz-Date',
      'X-Amz-Expires',
      'X-Amz-Signature',
      'X-Amz-SignedHeaders',
    ])
    expect(proof).toMatchObject({
      'X-Amz-Credential': 'AKIAJANEEXAMPLE00001/20261130/eu-west-1/sts/aws4_request',
      'X-Amz-Date': '20261130T230000Z',
      'X-Amz-Expires': '60',
      'X-Amz-SignedHeaders': 'host;x-dialctl-stage',
    })
    const caller = await verifyCallerProof(proof, opts(fake.fetch))
    expect(caller).toEqual({ arn: JANE.arn, account: JANE.account, userId: JANE.userId })
    expect(fake.calls).toHaveLength(1)
    const url = new URL(fake.calls[0]!.url)
    expect(url.origin + url.pathname).toBe('https://sts.eu-west-1.amazonaws.com/')
    expect(Object.fromEntries(url.searchParams)).toEqual({
      Action: 'GetCallerIdentity',
      Version: '2011-06-15',
      ...proof,
    })
    expect(fake.calls[0]!.headers).toEqual({ 'x-dialctl-stage': 'prod' })
  })

  it('a session token (role, SSO) travels in the proof and is signed', async () => {
    const fake = fakeSts({ ASIAJANEEXAMPLE00002: JANE })
    const temp = new STSClient({
      region: 'eu-west-1',
      credentials: {
        accessKeyId: 'ASIAJANEEXAMPLE00002',
        secretAccessKey: JANE.secretAccessKey,
        sessionToken: 'FwoGZXIvYXdzEXAMPLE+token/==',
      },
    })
    const proof = await presignCallerProof(temp, 'prod', NOW)
    expect(proof['X-Amz-Security-Token']).toBe('FwoGZXIvYXdzEXAMPLE+token/==')
    expect((await verifyCallerProof(proof, opts(fake.fetch))).arn).toBe(JANE.arn)
  })

  it('a proof made for another stage fails STS signature check (the stage header is signed)', async () => {
    const fake = fakeSts({ AKIAJANEEXAMPLE00001: JANE })
    const proof = await presignCallerProof(sts, 'staging', NOW)
    const error = await refusal(verifyCallerProof(proof, opts(fake.fetch)))
    expect(error.code).toBe('CALLER_UNVERIFIED')
    expect(error.message).toContain('SignatureDoesNotMatch')
  })

  it('a forged signature for someone else is refused by STS', async () => {
    const fake = fakeSts({ AKIAJANEEXAMPLE00001: JANE })
    const proof = await presignCallerProof(sts, 'prod', NOW)
    const forged = { ...proof, 'X-Amz-Signature': 'a'.repeat(64) }
    expect((await refusal(verifyCallerProof(forged, opts(fake.fetch)))).message).toContain(
      'SignatureDoesNotMatch',
    )
  })

  // Refused before any network call: the caller chooses no host, no action, no extra parameter.
  const table: [string, (p: CallerProof) => unknown, RegExp][] = [
    ['missing', () => undefined, /no caller proof/],
    ['not an object', () => 'https://evil.example/?Action=GetCallerIdentity', /malformed/],
    ['an extra parameter (Action smuggled)', (p) => ({ ...p, Action: 'AssumeRole' }), /malformed/],
    ['a URL parameter', (p) => ({ ...p, url: 'http://169.254.169.254/latest/meta-data/' }), /malformed/],
    ['only host signed (no stage binding)', (p) => ({ ...p, 'X-Amz-SignedHeaders': 'host' }), /malformed/],
    [
      'another service in the scope',
      (p) => ({ ...p, 'X-Amz-Credential': p['X-Amz-Credential'].replace('/sts/', '/s3/') }),
      /malformed/,
    ],
    [
      'another region',
      (p) => ({ ...p, 'X-Amz-Credential': p['X-Amz-Credential'].replace('eu-west-1', 'us-east-1') }),
      /signed for region us-east-1/,
    ],
    ['a validity over 15 minutes', (p) => ({ ...p, 'X-Amz-Expires': '604800' }), /outside 1–900 s/],
    ['expired', (p) => ({ ...p, 'X-Amz-Date': '20261130T225800Z' }), /expired/],
    ['dated in the future', (p) => ({ ...p, 'X-Amz-Date': '20261130T231000Z' }), /future/],
    ['a token with a header break', (p) => ({ ...p, 'X-Amz-Security-Token': 'a\r\nHost: x' }), /malformed/],
  ]
  it.each(table)('refuses a proof that is %s, without calling STS', async (_name, mutate, message) => {
    const fake = fakeSts({ AKIAJANEEXAMPLE00001: JANE })
    const proof = await presignCallerProof(sts, 'prod', NOW)
    const error = await refusal(verifyCallerProof(mutate(proof), opts(fake.fetch)))
    expect(error.code).toBe('CALLER_UNVERIFIED')
    expect(error.message).toMatch(message)
    expect(error.suggestion).toContain('aws sts get-caller-identity')
    expect(fake.calls).toEqual([])
  })

  it('STS unreachable (no NAT or endpoint) is named, not taken for a refusal', async () => {
    const proof = await presignCallerProof(sts, 'prod', NOW)
    const down = (() => Promise.reject(new TypeError('fetch failed'))) as typeof fetch
    const error = await refusal(verifyCallerProof(proof, opts(down)))
    expect(error.code).toBe('CALLER_STS_UNREACHABLE')
    expect(error.message).toContain('STS did not answer (fetch failed)')
  })

  it('an answer without an identity is refused', async () => {
    const proof = await presignCallerProof(sts, 'prod', NOW)
    const empty = (() => Promise.resolve(new Response('<x/>', { status: 200 }))) as typeof fetch
    expect((await refusal(verifyCallerProof(proof, opts(empty)))).message).toContain('without an identity')
  })

  // Issue #13 F5/F6 (adversarial review): the host the CLI signs is the host the function sends to,
  // in every partition; the fake checks the Host it receives, as STS does.
  it.each([
    ['eu-west-1', 'sts.eu-west-1.amazonaws.com'],
    ['cn-north-1', 'sts.cn-north-1.amazonaws.com.cn'],
    ['cn-northwest-1', 'sts.cn-northwest-1.amazonaws.com.cn'],
    ['us-gov-west-1', 'sts.us-gov-west-1.amazonaws.com'],
  ])('%s: the proof is signed for, and sent to, %s', async (region, host) => {
    const fake = fakeSts({ AKIAJANEEXAMPLE00001: JANE })
    const client = new STSClient({
      region,
      credentials: { accessKeyId: 'AKIAJANEEXAMPLE00001', secretAccessKey: JANE.secretAccessKey },
    })
    const proof = await presignCallerProof(client, 'prod', NOW)
    expect((await verifyCallerProof(proof, opts(fake.fetch, { region }))).arn).toBe(JANE.arn)
    expect(new URL(fake.calls[0]!.url).host).toBe(host)
  })

  it('a proof signed for another host fails at STS, and the refusal leads with version skew, not the clock', async () => {
    const fake = fakeSts({ AKIAJANEEXAMPLE00001: JANE })
    const proof = await presignCallerProof(sts, 'prod', NOW)
    // the function addresses a host the proof was not signed for (what an endpoint override did)
    const elsewhere = ((input: string | URL, init?: RequestInit) => {
      const url = new URL(String(input))
      url.host = 'sts-fips.eu-west-1.amazonaws.com'
      return fake.fetch(url, init)
    }) as typeof fetch
    const error = await refusal(verifyCallerProof(proof, opts(elsewhere)))
    expect(error.message).toContain('SignatureDoesNotMatch')
    expect(error.suggestion).toMatch(
      /^Likely causes, in order: \(1\) this dialctl and the stage run different versions/,
    )
    expect(error.suggestion).not.toMatch(/clock/)
  })
})
