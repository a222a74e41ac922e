/**
 * One VPC for everything that talks to PostgreSQL and Redis. `nat: 'ec2'` gives the Lambdas in
 * private subnets a way out to SQS/CloudWatch at a fraction of a managed NAT's price, and the
 * same instance serves as the bastion that `sst tunnel` uses so `dialctl` can reach PG/Redis.
 */
export const vpc = new sst.aws.Vpc('Vpc', { nat: 'ec2', bastion: true })
