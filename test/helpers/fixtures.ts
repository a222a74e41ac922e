/**
 * The seed's campaign and IVR flow (docs "Enriched Message"): play the appeal, then 1 triggers a
 * donation and 9 adds the number to the blacklist. Each call returns a fresh copy, so a test may
 * change one field (the nodes are loosely typed for that) without touching the others.
 */

export const seedFlow = () => ({
  nodes: [
    {
      id: 'node-1',
      type: 'play_audio',
      audioUrl: 'https://s3.amazonaws.com/bucket/audio.mp3',
      nextNodeId: 'node-2',
    },
    {
      id: 'node-2',
      type: 'capture_input',
      timeout: 10,
      validInputs: ['1', '9'],
      actions: {
        '1': { type: 'trigger_donation', parameters: {} },
        '9': { type: 'add_to_blacklist', parameters: {} },
      },
    },
  ] as Record<string, unknown>[],
  startNodeId: 'node-1',
})

/** The seed campaign: active, in Asia/Jerusalem, calling Sunday–Thursday 09–17. */
export const seedCampaign = (overrides: Record<string, unknown> = {}) => ({
  id: 'campaign-123',
  name: 'Donation Drive 2024',
  type: 'voice',
  status: 'active',
  config: {
    audioFileUrl: 'https://s3.amazonaws.com/bucket/audio.mp3',
    ivrFlow: seedFlow(),
    callingWindows: [{ dayOfWeek: [0, 1, 2, 3, 4], startHour: 9, endHour: 17 }],
    maxConcurrentCalls: 100,
    maxAttemptsPerContact: 3,
  },
  timezone: 'Asia/Jerusalem',
  ...overrides,
})
