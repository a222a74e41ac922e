import { vpc } from './network'
import { UPLOAD_PREFIX, UPLOAD_EXPIRY_DAYS } from './settings'

/**
 * Where `dialctl contacts import` puts a large contacts file for the control function to read
 * (src/control/aws-upload.ts → src/control/contacts-import-object.ts). A file holds phone numbers:
 * private (every public-access block on, TLS only), encrypted at rest (SSE-S3), and gone after
 * UPLOAD_EXPIRY_DAYS (lifecycle expiry of the upload prefix — the import has long finished by then).
 * Operators need s3:PutObject on `<bucket>/contacts-uploads/*`; the control function gets
 * s3:GetObject on that prefix only (stacks/functions.ts). Nothing else reads or lists it.
 */
export const uploads = new aws.s3.Bucket('ContactUploads', {
  bucketPrefix: `dialctl-${$app.stage}-uploads-`.toLowerCase(),
  forceDestroy: true,
})

export const uploadsPublicAccess = new aws.s3.BucketPublicAccessBlock('ContactUploadsPublicAccess', {
  bucket: uploads.id,
  blockPublicAcls: true,
  blockPublicPolicy: true,
  ignorePublicAcls: true,
  restrictPublicBuckets: true,
})

export const uploadsEncryption = new aws.s3.BucketServerSideEncryptionConfiguration(
  'ContactUploadsEncryption',
  {
    bucket: uploads.id,
    rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' }, bucketKeyEnabled: true }],
  },
)

export const uploadsLifecycle = new aws.s3.BucketLifecycleConfiguration('ContactUploadsLifecycle', {
  bucket: uploads.id,
  rules: [
    {
      id: 'expire-contacts-uploads',
      status: 'Enabled',
      filter: { prefix: UPLOAD_PREFIX },
      expiration: { days: UPLOAD_EXPIRY_DAYS },
      abortIncompleteMultipartUpload: { daysAfterInitiation: 1 },
    },
  ],
})

/** TLS only (the S3 User Guide's "aws:SecureTransport" example): a file is never sent in clear. */
export const uploadsPolicy = new aws.s3.BucketPolicy(
  'ContactUploadsPolicy',
  {
    bucket: uploads.id,
    policy: $jsonStringify({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TlsOnly',
          Effect: 'Deny',
          Principal: '*',
          Action: 's3:*',
          Resource: [uploads.arn, $interpolate`${uploads.arn}/*`],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ],
    }),
  },
  { dependsOn: [uploadsPublicAccess] },
)

/**
 * S3 from the private subnets without the NAT instance: a gateway endpoint (no charge) on their
 * route tables, so a large file streams to the control function at S3's speed, not the NAT's.
 */
export const s3Endpoint = new aws.ec2.VpcEndpoint('S3GatewayEndpoint', {
  vpcId: vpc.id,
  serviceName: $interpolate`com.amazonaws.${aws.getRegionOutput().name}.s3`,
  vpcEndpointType: 'Gateway',
  routeTableIds: vpc.nodes.privateRouteTables.apply((tables) => tables.map((t) => t.id)),
})
