import type { z } from 'zod'
import { Campaign, IvrFlow, KNOWN_ACTIONS } from '../contracts/index.js'
import type { IvrNode } from '../contracts/index.js'

/**
 * One problem found in a flow or campaign. `field` is relative to the node when `nodeId` is set
 * (e.g. `actions.9`), `path` is the full path from the validated document's root
 * (e.g. `config.ivrFlow.nodes.1.actions.9`), so an editor or a CLI can point at it.
 */
export interface ValidationIssue {
  nodeId?: string
  field: string
  path: string
  message: string
}

export interface ValidationResult<T> {
  ok: boolean
  errors: ValidationIssue[]
  /** the parsed value (zod defaults applied), only when ok */
  value?: T
}

/** `node "node-2" actions.9: no action for valid input "9"` — one line an operator can act on. */
export function formatIssue(issue: ValidationIssue): string {
  return issue.nodeId !== undefined
    ? `node "${issue.nodeId}" ${issue.field}: ${issue.message}`
    : `${issue.path}: ${issue.message}`
}

export function formatIssues(issues: ValidationIssue[]): string {
  return issues.map(formatIssue).join('\n')
}

const KNOWN = new Set<string>(KNOWN_ACTIONS)

/**
 * Validates an IVR flow: the zod shape first, then what a schema cannot say — references resolve,
 * every valid key has exactly one action, actions are known, every node is reachable and no loop
 * plays audio forever without waiting for the caller. Returns every problem, not only the first.
 */
export function validateIvrFlow(flow: unknown): ValidationResult<IvrFlow> {
  return validateFlowAt(flow, [])
}

/**
 * Validates a campaign document (`dialctl campaign create --file`): the zod Campaign schema and,
 * when the flow itself has the right shape, the flow's graph rules — so one run lists everything
 * to fix, even when other fields are also wrong.
 */
export function validateCampaign(input: unknown): ValidationResult<Campaign> {
  const parsed = Campaign.safeParse(input)
  const flowInput = (input as { config?: { ivrFlow?: unknown } } | null)?.config?.ivrFlow
  const errors: ValidationIssue[] = []
  if (!parsed.success) errors.push(...zodIssues(parsed.error, flowInput, ['config', 'ivrFlow']))
  // Graph checks need a well-shaped flow; shape errors inside the flow are already reported above.
  const flowShape = IvrFlow.safeParse(flowInput)
  if (flowShape.success) errors.push(...graphIssues(flowShape.data, ['config', 'ivrFlow']))
  return errors.length === 0 && parsed.success
    ? { ok: true, errors: [], value: parsed.data }
    : { ok: false, errors }
}

function validateFlowAt(flow: unknown, prefix: string[]): ValidationResult<IvrFlow> {
  const parsed = IvrFlow.safeParse(flow)
  if (!parsed.success) return { ok: false, errors: zodIssues(parsed.error, flow, prefix) }
  const errors = graphIssues(parsed.data, prefix)
  return errors.length === 0 ? { ok: true, errors, value: parsed.data } : { ok: false, errors }
}

/** zod issues as ValidationIssues; an issue inside `nodes.N` names that node when it has an id. */
function zodIssues(error: z.ZodError, flowInput: unknown, flowPrefix: string[]): ValidationIssue[] {
  const nodes = (flowInput as { nodes?: unknown } | null)?.nodes
  return error.issues.map((issue) => {
    const path = issue.path.map(String)
    const base = { path: path.length ? path.join('.') : '(root)', message: issue.message }
    const inFlow = flowPrefix.every((part, i) => path[i] === part)
    const rest = path.slice(flowPrefix.length)
    if (inFlow && rest[0] === 'nodes' && rest.length > 2 && Array.isArray(nodes)) {
      const id = (nodes[Number(rest[1])] as { id?: unknown } | undefined)?.id
      if (typeof id === 'string' && id.length > 0)
        return { ...base, nodeId: id, field: rest.slice(2).join('.') }
    }
    return { ...base, field: base.path }
  })
}

/** Where a node sends the call, by field name; `goto` actions name their target in parameters.nodeId. */
function edges(node: IvrNode): { field: string; target: string }[] {
  const out: { field: string; target: string }[] = []
  if (node.nextNodeId !== undefined) out.push({ field: 'nextNodeId', target: node.nextNodeId })
  if (node.type === 'capture_input') {
    if (node.onTimeoutNodeId !== undefined)
      out.push({ field: 'onTimeoutNodeId', target: node.onTimeoutNodeId })
    if (node.onInvalidNodeId !== undefined)
      out.push({ field: 'onInvalidNodeId', target: node.onInvalidNodeId })
    for (const [key, action] of Object.entries(node.actions)) {
      const target = action.parameters['nodeId']
      if (action.type === 'goto' && typeof target === 'string')
        out.push({ field: `actions.${key}.parameters.nodeId`, target })
    }
  }
  return out
}

/** Collects issues, each with its path under `prefix` (the flow's place in the config). */
class Issues {
  readonly list: ValidationIssue[] = []
  constructor(private readonly prefix: string[]) {}
  at(parts: (string | number)[]): string {
    return [...this.prefix, ...parts.map(String)].join('.')
  }
  node(index: number, nodeId: string, field: string, message: string): void {
    this.list.push({ nodeId, field, path: this.at(['nodes', index, field]), message })
  }
}

/** The flow's graph rules: unique ids, a start that exists, edges that land, reachability, no silent loop. */
function graphIssues(flow: IvrFlow, prefix: string[]): ValidationIssue[] {
  const issues = new Issues(prefix)
  const byId = new Map<string, IvrNode>()
  flow.nodes.forEach((node, index) => {
    if (byId.has(node.id)) issues.node(index, node.id, 'id', `duplicate node id "${node.id}"`)
    else byId.set(node.id, node)
  })
  if (!byId.has(flow.startNodeId))
    issues.list.push({
      field: 'startNodeId',
      path: issues.at(['startNodeId']),
      message: `start node "${flow.startNodeId}" does not exist; use one of: ${[...byId.keys()].join(', ')}`,
    })
  flow.nodes.forEach((node, index) => {
    for (const { field, target } of edges(node))
      if (!byId.has(target))
        issues.node(index, node.id, field, `points to node "${target}", which does not exist`)
    if (node.type === 'capture_input') captureIssues(node, index, issues)
  })
  if (byId.has(flow.startNodeId)) reachabilityIssues(flow, byId, issues)
  silentLoopIssues(flow, byId, issues)
  return issues.list
}

/** A capture_input node: each valid input has one action, each action a valid input, a known type, a goto target. */
function captureIssues(
  node: Extract<IvrNode, { type: 'capture_input' }>,
  index: number,
  issues: Issues,
): void {
  const valid = new Set(node.validInputs)
  const seen = new Set<string>()
  for (const key of node.validInputs) {
    if (seen.has(key)) issues.node(index, node.id, 'validInputs', `valid input "${key}" is listed twice`)
    seen.add(key)
    if (!(key in node.actions))
      issues.node(index, node.id, `actions.${key}`, `no action for valid input "${key}"`)
  }
  for (const [key, action] of Object.entries(node.actions)) {
    if (!valid.has(key))
      issues.node(
        index,
        node.id,
        `actions.${key}`,
        `action for key "${key}", which is not in validInputs; add it to validInputs or remove the action`,
      )
    if (!KNOWN.has(action.type))
      issues.node(
        index,
        node.id,
        `actions.${key}.type`,
        `unknown action type "${action.type}"; known types: ${KNOWN_ACTIONS.join(', ')}`,
      )
    if (action.type === 'goto' && typeof action.parameters['nodeId'] !== 'string')
      issues.node(
        index,
        node.id,
        `actions.${key}.parameters.nodeId`,
        'a goto action needs parameters.nodeId, the node to go to',
      )
  }
}

/** Reachability from the start node, over every edge (next, timeout, invalid, goto). */
function reachabilityIssues(flow: IvrFlow, byId: Map<string, IvrNode>, issues: Issues): void {
  const reached = new Set<string>([flow.startNodeId])
  const stack = [flow.startNodeId]
  for (let id = stack.pop(); id !== undefined; id = stack.pop()) {
    const node = byId.get(id)
    if (!node) continue
    for (const { target } of edges(node))
      if (byId.has(target) && !reached.has(target)) {
        reached.add(target)
        stack.push(target)
      }
  }
  flow.nodes.forEach((node, index) => {
    if (!reached.has(node.id) && byId.get(node.id) === node)
      issues.node(
        index,
        node.id,
        'id',
        `unreachable: no path leads here from start node "${flow.startNodeId}"`,
      )
  })
}

/**
 * A loop of play_audio nodes never waits for the caller: the call would play forever. Each
 * play_audio node has at most one successor, so following the chain finds every such loop.
 */
function silentLoopIssues(flow: IvrFlow, byId: Map<string, IvrNode>, issues: Issues): void {
  const reported = new Set<string>()
  const indexOf = new Map(flow.nodes.map((n, i) => [n.id, i] as const))
  for (const start of flow.nodes) {
    if (start.type !== 'play_audio') continue
    const chain: string[] = []
    let current: IvrNode | undefined = start
    while (current?.type === 'play_audio' && !chain.includes(current.id)) {
      chain.push(current.id)
      current = current.nextNodeId !== undefined ? byId.get(current.nextNodeId) : undefined
    }
    if (current?.type !== 'play_audio') continue
    const loop = chain.slice(chain.indexOf(current.id))
    const key = [...loop].sort().join('\u0000')
    if (reported.has(key)) continue
    reported.add(key)
    issues.node(
      indexOf.get(current.id) ?? 0,
      current.id,
      'nextNodeId',
      `cycle without input: ${[...loop, current.id].join(' → ')} plays audio forever; ` +
        'route it through a capture_input node or end it',
    )
  }
}
