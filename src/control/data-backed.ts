import { createReadStream } from 'node:fs'
import type { CampaignReport, ContactResult } from '../campaigns/report.js'
import type { ImportTotals } from './import-stream.js'
import type {
  AuditEntry,
  CampaignInput,
  CampaignMedia,
  CampaignMove,
  CampaignSummary,
  CampaignTransition,
  ContactRow,
  DataPort,
  FileImport,
  ImportResult,
  OutcomeCount,
  PacingSnapshot,
  Reachability,
  RunProgress,
} from './port.js'

/**
 * The shared half of every ControlPlane: the data layer's calls, forwarded once here instead of
 * in each adapter (local, AWS). An adapter extends this and adds its StagePort; it overrides a
 * data call only where its stage knows more (the AWS degraded metric, the local worker's health).
 */
export abstract class DataBackedPlane<D extends DataPort = DataPort> {
  constructor(protected readonly data: D) {}

  pacing(): Promise<PacingSnapshot> {
    return this.data.pacing()
  }
  setLimit(...args: Parameters<DataPort['setLimit']>): Promise<AuditEntry & { skipped?: 'held' }> {
    return this.data.setLimit(...args)
  }
  resumeAuto(reason: string, actor: string): Promise<boolean> {
    return this.data.resumeAuto(reason, actor)
  }
  limitHistory(limit: number): Promise<AuditEntry[]> {
    return this.data.limitHistory(limit)
  }
  listCampaigns(): Promise<CampaignSummary[]> {
    return this.data.listCampaigns()
  }
  showCampaign(id: string): Promise<CampaignSummary> {
    return this.data.showCampaign(id)
  }
  campaignMedia(windowMinutes: number, id?: string): Promise<CampaignMedia[]> {
    return this.data.campaignMedia(windowMinutes, id)
  }
  transitionCampaign(
    id: string,
    move: CampaignMove,
    reason: string | null,
    actor: string,
  ): Promise<CampaignTransition> {
    return this.data.transitionCampaign(id, move, reason, actor)
  }
  createCampaign(input: CampaignInput): Promise<CampaignSummary> {
    return this.data.createCampaign(input)
  }
  importContacts(campaignId: string, rows: ContactRow[]): Promise<Omit<ImportResult, 'invalid'>> {
    return this.data.importContacts(campaignId, rows)
  }
  /** Here, in this process: the file streamed through the shared import loop into the data layer. */
  async importContactsFile(file: FileImport): Promise<ImportTotals> {
    // Loaded on first use (CSV parser, phone metadata): commands that import nothing never load it.
    const { importCsvStream } = await import('./import-stream.js')
    return importCsvStream({
      campaignId: file.campaignId,
      source: file.path,
      csv: file.csv,
      strict: file.strict,
      open: (from) => createReadStream(file.path, { start: from }),
      save: (id, rows) => this.data.importContacts(id, rows),
      ...(file.onProgress ? { onProgress: file.onProgress } : {}),
    })
  }
  campaignReport(id: string): Promise<CampaignReport> {
    return this.data.campaignReport(id)
  }
  contactResults(id: string): AsyncIterable<ContactResult> {
    return this.data.contactResults(id)
  }
  runProgress(...args: Parameters<DataPort['runProgress']>): Promise<RunProgress> {
    return this.data.runProgress(...args)
  }
  recentOutcomes(minutes: number): Promise<OutcomeCount[]> {
    return this.data.recentOutcomes(minutes)
  }
  ping(): Promise<Reachability> {
    return this.data.ping()
  }
  close(): Promise<void> {
    return this.data.close()
  }
}
