import { postgres } from './data'
import { vpc } from './network'
import { secretParameters, sipTrunkHost, sipTrunkUser } from './secrets'
import {
  RTP_PORT_RANGE,
  SERVICE,
  SIP_PORT,
  sipTrunkCidrs,
  WORKER_PORT,
  XRAY_DAEMON_IMAGE,
  XRAY_DAEMON_PORT,
} from './settings'

/**
 * The Asterisk worker: one Fargate task = the Node.js worker (HTTP API for the dialer, ARI client)
 * + Asterisk, sharing the task's network namespace so ARI stays on 127.0.0.1 and never leaves
 * the task. The dialer reaches the worker through Cloud Map inside the VPC; only SIP and RTP
 * are open to the outside, and only from the SIP trunk's addresses.
 */
export const cluster = new sst.aws.Cluster('Cluster', { vpc })

const trunkCidrs = sipTrunkCidrs()

export const sipSecurityGroup = new aws.ec2.SecurityGroup('WorkerSipSecurityGroup', {
  vpcId: vpc.id,
  description: 'SIP signalling and RTP media between Asterisk and the SIP trunk',
  ingress: trunkCidrs.length
    ? [
        {
          protocol: 'udp',
          fromPort: SIP_PORT,
          toPort: SIP_PORT,
          cidrBlocks: trunkCidrs,
          description: 'SIP/UDP',
        },
        {
          protocol: 'tcp',
          fromPort: SIP_PORT,
          toPort: SIP_PORT,
          cidrBlocks: trunkCidrs,
          description: 'SIP/TCP',
        },
        {
          protocol: 'udp',
          fromPort: RTP_PORT_RANGE.from,
          toPort: RTP_PORT_RANGE.to,
          cidrBlocks: trunkCidrs,
          description: 'RTP media',
        },
      ]
    : [],
  egress: [{ protocol: '-1', fromPort: 0, toPort: 0, cidrBlocks: ['0.0.0.0/0'], description: 'all out' }],
})

const ariUser = 'dialctl'

/** The database password for the worker container (ECS `ssm` secret, like the others). */
const postgresPasswordParameter = new aws.ssm.Parameter('PostgresPasswordParameter', {
  name: `/dialctl/${$app.stage}/secrets/PostgresPassword`,
  type: 'SecureString',
  value: postgres.password,
})

export const workerService = new sst.aws.Service('Worker', {
  cluster,
  cpu: '1 vCPU',
  memory: '2 GB',
  // No `link`: SST hands a container its links as plain environment variables (SST_RESOURCE_*),
  // which would put the token and passwords in the task definition. Secrets come from SSM below;
  // the stores need no IAM permission, only the network.
  // ECS starts a replacement before stopping the old task, so calls in progress can finish.
  scaling: { min: 1, max: 4, cpuUtilization: 60 },
  // The X-Ray daemon sidecar relays the worker's spans (issue #19); the task role may send them
  // (the AWSXRayDaemonWriteAccess actions, X-Ray developer guide "AWS X-Ray daemon").
  permissions: [
    {
      actions: [
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
        'xray:GetSamplingRules',
        'xray:GetSamplingTargets',
      ],
      resources: ['*'],
    },
  ],
  containers: [
    {
      name: 'worker',
      image: { context: '.', dockerfile: 'worker/Dockerfile', target: 'worker' },
      environment: {
        PORT: String(WORKER_PORT),
        DRIVER: 'ari',
        ARI_URL: 'http://127.0.0.1:8088',
        ARI_USER: ariUser,
        ARI_APP: 'dialctl',
        ARI_ENDPOINT_TEMPLATE: 'PJSIP/{number}@trunk',
        // PostgreSQL as parts (src/db/pool.ts pgSettingsFromEnv); the password is a linked secret.
        PGHOST: postgres.host,
        PGPORT: $interpolate`${postgres.port}`,
        PGUSER: postgres.username,
        PGDATABASE: postgres.database,
        PGSSL: 'true',
        POWERTOOLS_SERVICE_NAME: SERVICE.worker,
        // the sidecar below; the worker's tracer is off without this (src/tracing/aws.ts)
        AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${XRAY_DAEMON_PORT}`,
      },
      // Secrets: injected by ECS from SSM SecureString parameters, never in the task definition.
      ssm: {
        ARI_PASSWORD: secretParameters.ariPassword.arn,
        WORKER_TOKEN: secretParameters.workerToken.arn,
        PGPASSWORD: postgresPasswordParameter.arn,
      },
      health: {
        // node:*-slim has no curl/wget: node itself asks /health.
        command: [
          'CMD',
          'node',
          '-e',
          `fetch('http://127.0.0.1:${WORKER_PORT}/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))`,
        ],
        startPeriod: '30 seconds',
      },
    },
    {
      name: 'asterisk',
      image: { context: '.', dockerfile: 'worker/Dockerfile', target: 'asterisk' },
      environment: {
        ARI_USER: ariUser,
        // The entrypoint renders these into pjsip.conf/ari.conf; nothing secret is baked into the image.
        SIP_TRUNK_HOST: sipTrunkHost.value,
        SIP_TRUNK_USER: sipTrunkUser.value,
        SIP_PORT: String(SIP_PORT),
        RTP_START: String(RTP_PORT_RANGE.from),
        RTP_END: String(RTP_PORT_RANGE.to),
      },
      ssm: {
        ARI_PASSWORD: secretParameters.ariPassword.arn,
        SIP_TRUNK_PASSWORD: secretParameters.sipTrunkPassword.arn,
      },
    },
    {
      // Segment documents over UDP on the task's localhost, batched to PutTraceSegments
      // (X-Ray developer guide, "Running the X-Ray daemon on Amazon ECS").
      name: 'xray-daemon',
      image: XRAY_DAEMON_IMAGE,
      cpu: '0.25 vCPU',
      memory: '0.5 GB',
    },
  ],
  transform: {
    service: (args) => {
      // Add the SIP/RTP group next to the VPC's own (which lets the dialer reach port 8080).
      args.networkConfiguration = $output(args.networkConfiguration).apply((network) =>
        sipSecurityGroup.id.apply((sipGroup) => ({
          ...network!,
          securityGroups: [...(network?.securityGroups ?? []), sipGroup],
        })),
      )
    },
  },
})

/** What the dialer calls: the Cloud Map name resolves to the task's private IP inside the VPC. */
export const workerUrl = $interpolate`http://${workerService.service}:${WORKER_PORT}`
