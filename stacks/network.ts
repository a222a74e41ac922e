/**
 * One VPC for everything that talks to PostgreSQL and Redis. `nat: 'ec2'` gives the Lambdas in
 * private subnets a way out to SQS/CloudWatch at a fraction of a managed NAT's price, and the
 * same instance serves as the bastion that `sst tunnel` uses so `dialctl` can reach PG/Redis.
 *
 * The control function reaches STS through this NAT: it verifies each caller by executing the
 * caller's presigned `sts:GetCallerIdentity` against `sts.<region>.amazonaws.com`
 * (src/control/caller-proof.ts). No STS interface endpoint is needed while the NAT exists (one
 * would cost ~$7/month per AZ); removing the NAT requires adding one (`com.amazonaws.<region>.sts`,
 * private DNS on), or every control call fails with CALLER_STS_UNREACHABLE.
 */
export const vpc = new sst.aws.Vpc('Vpc', { nat: 'ec2', bastion: true })
