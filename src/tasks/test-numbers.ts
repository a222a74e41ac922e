import { isE164 } from '../contracts/phone.js'

/**
 * Test traffic only ever uses numbers reserved for fiction: NANP 555-0100 … 555-0199 (ATIS/NANPA
 * reserve them in every area code). They pass the E.164 check, so tasks built from them go down
 * the same path as real ones, but they can never ring a real person.
 */
const AREA_CODES = [
  201, 202, 203, 205, 206, 207, 208, 209, 210, 212, 213, 214, 215, 216, 217, 218, 219, 224, 225, 228, 229,
  231, 234, 239, 240, 248, 251, 252, 253, 254, 256, 260, 262, 267, 269, 270, 272, 276, 281, 301, 302, 303,
  304, 305, 307, 308, 309, 310, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 323, 325, 330, 331, 334,
  336, 337, 339, 346, 347, 351, 352, 360, 361, 364, 380, 385, 386, 401, 402, 404, 405, 406, 407, 408, 409,
  410, 412, 413, 414, 415, 417, 419, 423, 424, 425, 430, 432, 434, 435, 440, 442, 443, 458, 469, 470, 475,
  478, 479, 480, 484, 501, 502, 503, 504, 505, 507, 508, 509, 510, 512, 513, 515, 516, 517, 518, 520, 530,
  531, 534, 539, 540, 541, 551, 559, 561, 562, 563, 567, 570, 571, 573, 574, 575, 580, 585, 586, 601, 602,
  603, 605, 606, 607, 608, 609, 610, 612, 614, 615, 616, 617, 618, 619, 620, 623, 626, 628, 629, 630, 631,
  636, 641, 646, 650, 651, 657, 660, 661, 662, 667, 669, 678, 681, 682, 701, 702, 703, 704, 706, 707, 708,
  712, 713, 714, 715, 716, 717, 718, 719, 720, 724, 725, 727, 731, 732, 734, 737, 740, 743, 747, 754, 757,
  760, 762, 763, 765, 769, 770, 772, 773, 774, 775, 779, 781, 785, 786, 801, 802, 803, 804, 805, 806, 808,
  810, 812, 813, 814, 815, 816, 817, 818, 828, 830, 831, 832, 843, 845, 847, 848, 850, 856, 857, 858, 859,
  860, 862, 863, 864, 865, 870, 872, 878, 901, 903, 904, 906, 907, 908, 909, 910, 912, 913, 914, 915, 916,
  917, 918, 919, 920, 925, 928, 929, 931, 936, 937, 940, 941, 947, 949, 951, 952, 954, 956, 959, 970, 971,
  972, 973, 978, 979, 980, 984, 985, 989,
] as const

/** How many distinct reserved test numbers there are. */
export const TEST_NUMBER_COUNT = AREA_CODES.length * 100

/** The i-th reserved test number (wraps around after TEST_NUMBER_COUNT). */
export function testNumber(i: number): string {
  const n = ((i % TEST_NUMBER_COUNT) + TEST_NUMBER_COUNT) % TEST_NUMBER_COUNT
  const area = AREA_CODES[Math.floor(n / 100)]!
  return `+1${area}55501${String(n % 100).padStart(2, '0')}`
}

/** True for +1 NXX 555-01XX: the only numbers test traffic may use. */
export function isReservedTestNumber(phone: string): boolean {
  return /^\+1[2-9]\d{2}55501\d{2}$/.test(phone) && isE164(phone)
}
