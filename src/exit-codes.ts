/** Exit codes a runbook can branch on. */
export const ExitCode = {
  Ok: 0,
  Error: 1,
  Usage: 2,
  /** a check ran fine and found the system unhealthy (pipe status, doctor, status) */
  Unhealthy: 3,
} as const
