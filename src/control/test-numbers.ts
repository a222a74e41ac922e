import { isE164 } from '../contracts/phone.js'

/**
 * Numbers reserved for drama and testing by Ofcom (UK): each block of 1000 is never assigned to
 * a subscriber, so a load test can never ring a real person. Load tests dial only these.
 * https://www.ofcom.org.uk/phones-and-broadband/phone-numbers/numbers-for-drama
 */
export const RESERVED_TEST_BLOCKS = [
  '+44207946', // London 020 7946 0xxx
  '+44113496', // Leeds
  '+44114496', // Sheffield
  '+44116496', // Leicester
  '+44117496', // Bristol
  '+44118496', // Reading
  '+44121496', // Birmingham
  '+44131496', // Edinburgh
  '+44141496', // Glasgow
  '+44151496', // Liverpool
  '+44161496', // Manchester
  '+44289018', // Belfast 028 9018 0xxx
  '+44292018', // Cardiff 029 2018 0xxx
] as const

export const RESERVED_TEST_NUMBERS = RESERVED_TEST_BLOCKS.length * 1000

/** The i-th reserved number (wraps around after RESERVED_TEST_NUMBERS). */
export function testNumber(i: number): string {
  const n = ((i % RESERVED_TEST_NUMBERS) + RESERVED_TEST_NUMBERS) % RESERVED_TEST_NUMBERS
  return `${RESERVED_TEST_BLOCKS[Math.floor(n / 1000)]}0${String(n % 1000).padStart(3, '0')}`
}

export function isReservedTestNumber(phone: string): boolean {
  return (
    RESERVED_TEST_BLOCKS.some((b) => phone.startsWith(b + '0') && phone.length === b.length + 4) &&
    isE164(phone)
  )
}
