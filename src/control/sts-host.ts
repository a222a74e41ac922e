import { partition } from '@aws-sdk/core/client'

/**
 * The STS host both halves of the caller proof use: the CLI signs for it
 * (src/control/caller-presign.ts) and the control function sends to it
 * (src/control/caller-proof.ts). SigV4 covers the Host header, so the two must be the same name;
 * each half computes it from the stage's region alone, with no override on either side.
 *
 * `sts.<region>.<dnsSuffix>`, the suffix from the region's partition in the SDK's own partition
 * data (`amazonaws.com`; `amazonaws.com.cn` for cn-north-1 / cn-northwest-1; the GovCloud and ISO
 * partitions likewise) — AWS General Reference, "AWS Security Token Service endpoints and quotas".
 * A VPC interface endpoint for STS with private DNS answers this same name, so the function works
 * behind one without configuration. FIPS hosts (`sts-fips.<region>...`) are not used: offering
 * one would need the stage to publish its host for the CLI to sign (issue #13, F5).
 */
export function stsHost(region: string): string {
  return `sts.${region}.${partition(region).dnsSuffix}`
}
