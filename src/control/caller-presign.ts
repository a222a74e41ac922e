import type { STSClient } from '@aws-sdk/client-sts'
import { SignatureV4 } from '@smithy/signature-v4'
import { CallerProof, PROOF_SECONDS, STAGE_HEADER, STS_API_VERSION } from './caller-proof.js'
import { stsHost } from './sts-host.js'

/**
 * The CLI's half of src/control/caller-proof.ts: an `sts:GetCallerIdentity` request for the
 * stage's regional STS endpoint (stsHost: the host the function sends to), presigned (SigV4 query parameters, valid PROOF_SECONDS) with the
 * operator's credentials — the STS client's own credential chain, region and hash, so `--profile`,
 * SSO and roles all work — covering the header `x-dialctl-stage: <stage>`. Only the `X-Amz-*`
 * parameters are returned: the control function supplies the host and the action itself.
 * Signing is local (no network call); a fresh proof is made for every Invoke.
 */
export async function presignCallerProof(sts: STSClient, stage: string, now?: Date): Promise<CallerProof> {
  const region = await sts.config.region()
  const hostname = stsHost(region)
  const signer = new SignatureV4({
    credentials: sts.config.credentials,
    region,
    service: 'sts',
    sha256: sts.config.sha256,
  })
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: STS_API_VERSION },
      headers: { host: hostname, [STAGE_HEADER]: stage },
    },
    { expiresIn: PROOF_SECONDS, ...(now ? { signingDate: now } : {}) },
  )
  const { Action: _action, Version: _version, ...params } = signed.query as Record<string, string>
  return CallerProof.parse(params)
}
