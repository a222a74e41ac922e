export {
  createAriDriver,
  inStasisApp,
  type AriDriver,
  type OrphanChannel,
  type ReconcileReport,
} from './driver.js'
export { ariConfigFromEnv, AriDriverConfig, defaultAriApp } from './config.js'
export { AriClient, AriHttpError, type AriConnectionState, type AriClientConfig } from './client.js'
export { causeForUnanswered, outcomeForUnanswered, mediaUriFor, Q850, SOFT_HANGUP } from './outcome.js'
export type { AriEvent, AriEventType } from './events.js'
export { connectAri, orphanCallIds, wireCrashRecovery } from './recovery.js'
