/**
 * The command a campaign needs next, as every command that shows one prints it (`campaign create`'s
 * "Next:", `campaign show`, `status`, doctor, `campaign start`'s refusal): one place, so the hint
 * follows the campaign's state — a test campaign gets its contacts from `load-test` (reserved test
 * numbers), never from a file.
 */

/** The load-test run a test campaign is suggested (small: a first look, not a capacity test). */
export const SUGGESTED_LOAD_TEST_COUNT = 100

export interface CampaignForNextStep {
  campaignId: string
  status: string
  isTest: boolean
  contacts: { total: number }
  allContactsFinished: boolean
}

/** `dialctl load-test …` for a test campaign. */
export function loadTestCommand(campaignId: string): string {
  return `dialctl load-test -n ${SUGGESTED_LOAD_TEST_COUNT} --campaign ${campaignId}`
}

/** `dialctl contacts import …` with the file left for the operator to name. */
export function importCommand(campaignId: string): string {
  return `dialctl contacts import --campaign ${campaignId} FILE`
}

/** What to do about a campaign whose contacts are all finished (it stays open until completed). */
export function finishedAdvice(c: Pick<CampaignForNextStep, 'campaignId' | 'isTest'>): string {
  const more = c.isTest
    ? `run another load test (${loadTestCommand(c.campaignId)})`
    : `import more (${importCommand(c.campaignId)})`
  return `${more} or close it (dialctl campaign complete ${c.campaignId})`
}

/**
 * The next step for `c`, or undefined when it needs none (dialing, or final): a draft needs
 * contacts (or a load test), then `campaign start`; a paused one `campaign resume`; an active or
 * paused one with every contact finished, more contacts or `campaign complete`.
 */
export function campaignNextStep(c: CampaignForNextStep): string | undefined {
  if (c.status === 'draft')
    return c.contacts.total === 0 && c.isTest
      ? `${loadTestCommand(c.campaignId)} (it sends reserved test numbers as contacts and starts the draft)`
      : c.contacts.total === 0
        ? `${importCommand(c.campaignId)} (FILE: a CSV with a phone_number column, E.164), then dialctl campaign start ${c.campaignId}`
        : `dialctl campaign start ${c.campaignId}`
  if ((c.status === 'active' || c.status === 'paused') && c.allContactsFinished) return finishedAdvice(c)
  if (c.status === 'paused') return `dialctl campaign resume ${c.campaignId}`
  return undefined
}
