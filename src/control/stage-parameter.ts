/**
 * Where a stage publishes its outputs (stacks/index.ts) and dialctl reads them
 * (src/control/stage-outputs.ts): one SSM parameter per stage. Dependency-free, so the stack
 * program can import it.
 */
export const OUTPUTS_PARAMETER_PREFIX = '/dialctl/'

export function outputsParameterName(stage: string): string {
  return `${OUTPUTS_PARAMETER_PREFIX}${stage}/outputs`
}
