import { describe, expect, it } from 'vitest'
import {
  PatternError,
  compileFilters,
  compilePattern,
  matchesPattern,
  sqsFilterEvent,
} from '../../src/pipe/pattern.js'

// The example event of EventBridge's pattern documentation (and aws/event-ruler's README).
const ec2 = {
  version: '0',
  id: 'ddddd4-aaaa-7777-4444-345dd43cc333',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '012345679012',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
}

type Row = [name: string, pattern: object, event: object, expected: boolean]
const table: Row[] = [
  // exact values, arrays as OR, event arrays
  [
    'simple match (docs)',
    {
      'detail-type': ['EC2 Instance State-change Notification'],
      resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
      detail: { state: ['initializing', 'running'] },
    },
    ec2,
    true,
  ],
  ['exact value mismatch', { source: ['aws.s3'] }, ec2, false],
  ['exact string is case-sensitive', { source: ['AWS.EC2'] }, ec2, false],
  ['number exact', { detail: { 'c-count': [5] } }, ec2, true],
  ['number does not equal its string', { detail: { 'c-count': ['5'] } }, ec2, false],
  ['number exact in exponent form (3.018e2 = 301.8)', { detail: { 'x-limit': [3.018e2] } }, ec2, true],
  ['boolean exact', { b: [true] }, { b: true }, true],
  ['boolean is not its string', { b: ['true'] }, { b: true }, false],
  [
    'null matches null (docs)',
    { detail: { responseElements: [null] } },
    { detail: { responseElements: null } },
    true,
  ],
  ['null does not match a missing field', { detail: { responseElements: [null] } }, { detail: {} }, false],
  [
    'empty string matches empty string (docs)',
    { detail: { eventVersion: [''] } },
    { detail: { eventVersion: '' } },
    true,
  ],
  [
    'empty string does not match null (docs)',
    { detail: { eventVersion: [''] } },
    { detail: { eventVersion: null } },
    false,
  ],
  [
    'event array: non-empty intersection (docs)',
    { resources: ['arn:1', 'arn:2'] },
    { resources: ['arn:9', 'arn:2'] },
    true,
  ],
  ['event array: empty intersection', { resources: ['arn:1'] }, { resources: ['arn:9', 'arn:8'] }, false],
  ['missing field does not match', { detail: { nope: ['x'] } }, ec2, false],
  // prefix / suffix / equals-ignore-case / wildcard
  ['prefix (docs)', { time: [{ prefix: '2017-10-02' }] }, ec2, true],
  ['prefix mismatch', { time: [{ prefix: '2018' }] }, ec2, false],
  ['prefix only works on strings', { detail: { 'c-count': [{ prefix: '5' }] } }, ec2, false],
  [
    'prefix ignore case (docs)',
    { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] },
    { service: 'eventbridge' },
    true,
  ],
  ['suffix (docs)', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.png' }, true],
  ['suffix is case-sensitive', { FileName: [{ suffix: '.png' }] }, { FileName: 'image.PNG' }, false],
  [
    'suffix ignore case (docs)',
    { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] },
    { FileName: 'a.PNG' },
    true,
  ],
  ['equals-ignore-case (docs)', { name: [{ 'equals-ignore-case': 'alice' }] }, { name: 'ALICE' }, true],
  ['equals-ignore-case mismatch', { name: [{ 'equals-ignore-case': 'alice' }] }, { name: 'alicia' }, false],
  [
    'wildcard (ruler README)',
    { source: [{ wildcard: 'Simple*Service' }] },
    { source: 'SimpleQueueService' },
    true,
  ],
  ['wildcard mismatch', { source: [{ wildcard: 'Simple*Service' }] }, { source: 'SimpleQueue' }, false],
  [
    'wildcard in a path (docs)',
    { EventBusArn: [{ wildcard: 'arn:aws:events:us-east-1:*:event-bus/*' }] },
    { EventBusArn: 'arn:aws:events:us-east-1:123:event-bus/default' },
    true,
  ],
  ['wildcard escaped star is literal', { s: [{ wildcard: 'a\\*b' }] }, { s: 'a*b' }, true],
  ['wildcard escaped star does not glob', { s: [{ wildcard: 'a\\*b' }] }, { s: 'axxb' }, false],
  ['wildcard dot is literal', { s: [{ wildcard: 'a.c' }] }, { s: 'abc' }, false],
  // anything-but
  ['anything-but string (docs)', { detail: { state: [{ 'anything-but': 'initializing' }] } }, ec2, true],
  ['anything-but string excluded', { detail: { state: [{ 'anything-but': 'running' }] } }, ec2, false],
  ['anything-but number (docs)', { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, ec2, true],
  [
    'anything-but string list (docs)',
    { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
    ec2,
    true,
  ],
  [
    'anything-but string list excluded',
    { detail: { state: [{ 'anything-but': ['stopped', 'running'] }] } },
    ec2,
    false,
  ],
  [
    'anything-but number list (docs)',
    { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } },
    ec2,
    true,
  ],
  ['anything-but number list excluded', { detail: { 'c-count': [{ 'anything-but': [5, 6] }] } }, ec2, false],
  ['anything-but needs the field', { detail: { missing: [{ 'anything-but': 'x' }] } }, ec2, false],
  [
    'anything-but on an event array: any other element matches',
    { s: [{ 'anything-but': 'a' }] },
    { s: ['a', 'b'] },
    true,
  ],
  // numeric
  ['numeric range (docs)', { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, ec2, true],
  [
    'numeric range upper bound excluded',
    { detail: { 'c-count': [{ numeric: ['>', 0, '<', 5] }] } },
    ec2,
    false,
  ],
  ['numeric less than (docs)', { detail: { 'd-count': [{ numeric: ['<', 10] }] } }, ec2, true],
  ['numeric equals (docs)', { detail: { 'x-limit': [{ numeric: ['=', 3.018e2] }] } }, ec2, true],
  ['numeric >= boundary', { n: [{ numeric: ['>=', 5] }] }, { n: 5 }, true],
  ['numeric only works on numbers', { n: [{ numeric: ['>', 0] }] }, { n: '5' }, false],
  ['numeric on an event array', { n: [{ numeric: ['>', 10] }] }, { n: [1, 20] }, true],
  // cidr
  ['cidr (docs)', { detail: { 'source-ip': [{ cidr: '10.0.0.0/24' }] } }, ec2, true],
  ['cidr outside', { detail: { 'source-ip': [{ cidr: '10.0.1.0/24' }] } }, ec2, false],
  // exists
  ['exists true (docs)', { detail: { 'c-count': [{ exists: true }] } }, ec2, true],
  ['exists false (docs)', { detail: { 'c-count': [{ exists: false }] } }, { detail: { state: 'x' } }, true],
  ['exists false when present', { detail: { 'c-count': [{ exists: false }] } }, ec2, false],
  [
    'exists false on an intermediate node matches (ruler README)',
    { detail: { 'c-count': [{ exists: false }] } },
    { detail: { 'c-count': { c1: 100 } } },
    true,
  ],
  [
    'exists true on an intermediate node does not match',
    { detail: { 'c-count': [{ exists: true }] } },
    { detail: { 'c-count': { c1: 100 } } },
    false,
  ],
  ['exists true on null (a value is present)', { a: [{ exists: true }] }, { a: null }, true],
  ['exists false when the parent is missing', { detail: { x: [{ exists: false }] } }, { other: 1 }, true],
  ['exists true on an empty array', { a: [{ exists: true }] }, { a: [] }, false],
  ['exists mixed with a value (OR)', { a: ['x', { exists: false }] }, {}, true],
  // $or
  [
    '$or (ruler README): source && (metricName || namespace)',
    {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    },
    { source: 'aws.cloudwatch', namespace: 'AWS/EC2' },
    true,
  ],
  [
    '$or none matches',
    { source: ['aws.cloudwatch'], $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }] },
    { source: 'aws.cloudwatch', namespace: 'AWS/RDS' },
    false,
  ],
  [
    '$or with an AND inside and a nested $or (ruler README)',
    {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization', 'ReadLatency'] },
        {
          metricType: ['MetricType'],
          namespace: ['AWS/EC2', 'AWS/ES'],
          $or: [{ metricId: [1234] }, { spaceId: [1000] }],
        },
        { scope: ['Service'] },
      ],
    },
    { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/ES', spaceId: 1000 },
    true,
  ],
  [
    'nested $or needs one of its branches',
    {
      $or: [
        { metricType: ['MetricType'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] },
        { scope: ['Service'] },
      ],
    },
    { metricType: 'MetricType', spaceId: 1 },
    false,
  ],
  [
    '$or inside a nested field (parallel or, ruler README)',
    {
      $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }],
      detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] },
    },
    { namespace: 'AWS/EC2', detail: { 'detail-type': 'CloudWatch Alarm State Change' } },
    true,
  ],
  // arrays of objects (ruler README: array-consistent matching)
  [
    'array of objects: one element',
    { employees: { firstName: ['Anna'] } },
    { employees: [{ firstName: 'John' }, { firstName: 'Anna' }] },
    true,
  ],
  [
    'array of objects: fields of one element only',
    { employees: { firstName: ['Anna'], lastName: ['Jones'] } },
    {
      employees: [
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    },
    false,
  ],
  [
    'array of arrays of objects',
    { employees: { firstName: ['Peter'] } },
    { employees: [[{ firstName: 'John' }], [{ firstName: 'Peter' }]] },
    true,
  ],
  // the pipe's filter: SQS record with a JSON body (Pipes filter on the `body` key)
  [
    'pipe filter on the body: phoneNumber exists',
    { body: { phoneNumber: [{ exists: true }] } },
    sqsFilterEvent({ messageId: 'm', body: JSON.stringify({ phoneNumber: '+972501234567', attempts: 0 }) }),
    true,
  ],
  [
    'pipe filter on the body: phoneNumber missing',
    { body: { phoneNumber: [{ exists: true }] } },
    sqsFilterEvent({ messageId: 'm', body: JSON.stringify({ campaignId: 'c' }) }),
    false,
  ],
  [
    'the seed filter without "body" does not match an SQS record (as on AWS)',
    { phoneNumber: [{ exists: true }] },
    sqsFilterEvent({ messageId: 'm', body: JSON.stringify({ phoneNumber: '+972501234567' }) }),
    false,
  ],
  [
    'pipe filter on a plain-text body',
    { body: [{ prefix: 'hello' }] },
    sqsFilterEvent({ messageId: 'm', body: 'hello world' }),
    true,
  ],
]

describe('EventBridge pattern matching', () => {
  it.each(table)('%s', (_name, pattern, event, expected) => {
    expect(matchesPattern(pattern, event, { dialect: 'eventbus' })).toBe(expected)
  })

  it('accepts a pattern given as JSON text', () => {
    expect(matchesPattern('{"a": [1]}', { a: 1 })).toBe(true)
  })

  it('Pipes FilterCriteria: several filters are ORed, none = everything passes, more than 5 refused', () => {
    const pass = compileFilters([{ a: [1] }, { b: [2] }])
    expect([pass({ a: 1 }), pass({ b: 2 }), pass({ c: 3 })]).toEqual([true, true, false])
    expect(compileFilters(undefined)({ anything: true })).toBe(true)
    expect(() => compileFilters(Array.from({ length: 6 }, () => ({ a: [1] })))).toThrow(/at most 5/)
  })
})

describe('pattern validation: clear errors naming the field', () => {
  const invalid: [string, unknown, RegExp][] = [
    [
      'unknown operator',
      { body: { name: [{ contains: 'x' }] } },
      /field "body.name\[0\]": unknown operator "contains"/,
    ],
    [
      'leaf not in a list',
      { source: 'aws.ec2' },
      /field "source": must be a list .* write \{"source": \["aws.ec2"\]\}/,
    ],
    ['empty list', { a: [] }, /field "a": an empty list/],
    ['two operators in one object', { a: [{ prefix: 'x', suffix: 'y' }] }, /one operator per object/],
    ['operator outside a list', { a: { prefix: 'x' } }, /operators go inside a list/],
    ['numeric with a string', { a: [{ numeric: ['>', 'five'] }] }, /"five" is not a number/],
    ['numeric unknown comparison', { a: [{ numeric: ['!=', 5] }] }, /unknown comparison "!="/],
    ['numeric empty range', { a: [{ numeric: ['>', 5, '<', 1] }] }, /range is empty/],
    ['numeric two lower bounds', { a: [{ numeric: ['>', 1, '>=', 2] }] }, /two lower bounds/],
    ['exists not boolean', { a: [{ exists: 'yes' }] }, /"exists" takes true or false/],
    ['anything-but mixed list', { a: [{ 'anything-but': ['a', 1] }] }, /only strings or only numbers/],
    ['wildcard with consecutive stars', { a: [{ wildcard: 'a**b' }] }, /consecutive wildcard/],
    ['wildcard bad escape', { a: [{ wildcard: 'a\\b' }] }, /may only escape/],
    ['$or with one branch', { $or: [{ a: [1] }] }, /"\$or" needs an array of at least two/],
    ['cidr IPv6', { ip: [{ cidr: '2001:db8::/32' }] }, /IPv4 block/],
    ['empty pattern', {}, /the pattern is empty/],
    ['not an object', [1], /must be a JSON object/],
    ['bad JSON text', '{"a": [1', /not valid JSON/],
  ]
  it.each(invalid)('%s', (_name, pattern, message) => {
    let error: unknown
    try {
      compilePattern(pattern, { dialect: 'eventbus' })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(PatternError)
    expect((error as Error).message).toMatch(message)
  })

  it('the pipes dialect refuses anything-but with prefix (event bus only), the eventbus dialect matches it', () => {
    const pattern = { Region: [{ 'anything-but': { prefix: 'us-' } }] }
    expect(() => compilePattern(pattern)).toThrow(/not in EventBridge Pipes filters/)
    const match = compilePattern(pattern, { dialect: 'eventbus' })
    expect([match({ Region: 'eu-west-1' }), match({ Region: 'us-east-1' })]).toEqual([true, false])
  })

  it('anything-but suffix / equals-ignore-case list / wildcard on an event bus', () => {
    const suffix = compilePattern({ f: [{ 'anything-but': { suffix: '.png' } }] }, { dialect: 'eventbus' })
    expect([suffix({ f: 'a.jpg' }), suffix({ f: 'a.png' })]).toEqual([true, false])
    const ic = compilePattern(
      { s: [{ 'anything-but': { 'equals-ignore-case': ['Stopped', 'Overloaded'] } }] },
      {
        dialect: 'eventbus',
      },
    )
    expect([ic({ s: 'running' }), ic({ s: 'STOPPED' })]).toEqual([true, false])
    const wc = compilePattern({ p: [{ 'anything-but': { wildcard: '*/lib/*' } }] }, { dialect: 'eventbus' })
    expect([wc({ p: 'src/main.ts' }), wc({ p: 'x/lib/y' })]).toEqual([true, false])
  })
})
