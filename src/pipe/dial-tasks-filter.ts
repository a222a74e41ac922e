/**
 * The seed's filter "phoneNumber exists", as EventBridge Pipes needs it for an SQS source: Pipes
 * matches SQS records, whose JSON body sits under `body`, so the seed's bare
 * `{"phoneNumber":[{"exists":true}]}` would match nothing on AWS. One definition for the deployed
 * pipe (stacks/) and the local pipe (src/local-stack/).
 */
export const DIAL_TASKS_FILTER = { body: { phoneNumber: [{ exists: true }] } } as const
