import { Flags } from '@oclif/core'
import { ControlCommand } from '../../src/cli/control-command.js'
import { table } from '../../src/cli/render.js'
import type { DlqMessage } from '../../src/control/port.js'

export default class DlqList extends ControlCommand<typeof DlqList> {
  static override summary = 'List messages in the dead-letter queue (phone numbers masked)'
  static override description =
    'Shows each message with its campaign, contact, masked phone number, receive count, first-received and sent times. Looking does not consume or reorder the messages (on AWS it receives with a visibility timeout of 0, which leaves them visible).'
  static override examples = [
    '<%= config.bin %> <%= command.id %>',
    '<%= config.bin %> <%= command.id %> --limit 100 --json',
  ]
  static override flags = {
    limit: Flags.integer({ description: 'how many messages at most', default: 20, min: 1, max: 1000 }),
  }

  async run(): Promise<DlqMessage[]> {
    const { flags } = await this.parse(DlqList)
    const plane = await this.control()
    const messages = await plane.dlqList(flags.limit)
    if (messages.length === 0) this.log('The DLQ is empty.')
    else
      this.log(
        table(
          ['Message', 'Campaign', 'Contact', 'Phone', 'Receives', 'First received', 'Sent'],
          messages.map((m) => [
            m.messageId,
            m.campaignId ?? m.bodySummary ?? '—',
            m.contactId ?? '—',
            m.phone ?? '—',
            m.receiveCount,
            m.firstReceivedAt ?? '—',
            m.sentAt,
          ]),
        ),
      )
    return messages
  }
}
