import type { AwsClients } from './aws-clients.js'
import { destroyAwsClients } from './aws-clients.js'
import {
  type WorkerServiceNames,
  alarmsFiring,
  awsControllerInputs,
  dialerDegraded,
} from './aws-cloudwatch.js'
import { AwsPipe } from './aws-pipes.js'
import { AwsQueues, type QueueNames } from './aws-sqs.js'
import { INLINE_IMPORT_MAX_BYTES, type S3ContactUploader } from './aws-upload.js'
import { DataBackedPlane } from './data-backed.js'
import { pushRegistered } from './push.js'
import type { ImportTotals } from './import-stream.js'
import type {
  Alarm,
  ControllerInputs,
  ControlPlane,
  DataPort,
  DlqMessage,
  FileImport,
  PacingSnapshot,
  PipeDescription,
  PipeMetrics,
  PushEntry,
  PushResult,
  QueueDepth,
  RedriveStatus,
} from './port.js'

export { createAwsClients, type AwsClients } from './aws-clients.js'

/** The deployed stage's resources dialctl acts on (a subset of the stage outputs). */
export interface AwsResources extends QueueNames, WorkerServiceNames {
  pipeName: string
  /** the worker's URL the dialers POST /dial to (stage output workerUrl) */
  workerUrl?: string
  /** only alarms whose name starts with this (the stage's), else every alarm of the account */
  alarmPrefix?: string
}

/**
 * A deployed SST stage. The AWS APIs (Pipes, SQS, CloudWatch) are called with the operator's
 * credentials; the data layer (PostgreSQL, Redis, inside the VPC) is a DataPort — on AWS the
 * control Lambda (src/control/aws-control-client.ts), or a DataPlane through a tunnel.
 */
export class AwsControlPlane extends DataBackedPlane implements ControlPlane {
  readonly kind = 'aws' as const
  readonly workerUrl: string | undefined
  private readonly pipe: AwsPipe
  private readonly queues: AwsQueues

  constructor(
    readonly stage: string,
    private readonly resources: AwsResources,
    private readonly clients: Partial<AwsClients> & Pick<AwsClients, 'pipes' | 'sqs' | 'cloudwatch'>,
    data: DataPort,
    private readonly now: () => Date = () => new Date(),
    /** large contacts files through the stage bucket (a stage with a control function and a bucket) */
    private readonly uploader?: S3ContactUploader,
  ) {
    super(data)
    this.workerUrl = resources.workerUrl
    this.pipe = new AwsPipe(clients.pipes, clients.cloudwatch, resources, stage, now)
    this.queues = new AwsQueues(clients.sqs, clients.cloudwatch, resources, now)
  }

  override async pacing(): Promise<PacingSnapshot> {
    const [snap, degraded] = await Promise.all([
      this.data.pacing(),
      dialerDegraded(this.clients.cloudwatch, this.stage, this.now()),
    ])
    return { ...snap, degraded: snap.degraded || degraded }
  }

  /** A file over INLINE_IMPORT_MAX_BYTES goes through the stage bucket when the stage has one. */
  override importContactsFile(file: FileImport): Promise<ImportTotals> {
    if (this.uploader && file.size > INLINE_IMPORT_MAX_BYTES) return this.uploader.importFile(file)
    return super.importContactsFile(file)
  }

  describePipe(): Promise<PipeDescription> {
    return this.pipe.describe()
  }
  startPipe(): Promise<PipeDescription> {
    return this.pipe.start()
  }
  stopPipe(): Promise<PipeDescription> {
    return this.pipe.stop()
  }
  pipeMetrics(windowMinutes: number): Promise<PipeMetrics> {
    return this.pipe.metrics(windowMinutes)
  }

  queueDepth(): Promise<QueueDepth> {
    return this.queues.depth(this.resources.queueUrl)
  }
  dlqDepth(): Promise<QueueDepth> {
    return this.queues.depth(this.resources.dlqUrl)
  }
  dlqList(limit: number): Promise<DlqMessage[]> {
    return this.queues.dlqList(limit)
  }
  dlqRedrive(options: { maxPerSecond?: number }): Promise<RedriveStatus> {
    return this.queues.dlqRedrive(options)
  }
  dlqRedriveStatus(): Promise<RedriveStatus | undefined> {
    return this.queues.dlqRedriveStatus()
  }
  dlqPurge(): Promise<number> {
    return this.queues.dlqPurge()
  }
  async pushTasks(entries: PushEntry[]): Promise<PushResult> {
    // The dial gate dials only contacts that exist: a pushed task brings its contact row.
    return pushRegistered(
      (e) => this.data.registerPushedContacts(e),
      (e) => this.queues.push(e),
      entries,
    )
  }

  controllerInputs(): Promise<ControllerInputs> {
    return awsControllerInputs(this.clients.cloudwatch, this.resources, this.data, this.now())
  }
  alarms(): Promise<Alarm[]> {
    return alarmsFiring(this.clients.cloudwatch, this.resources.alarmPrefix)
  }

  override async close(): Promise<void> {
    await this.data.close()
    destroyAwsClients(this.clients)
  }
}
