import pg from 'pg'

/**
 * BEGIN sent with a transaction's first statement: one extended-protocol batch — Parse/Bind/Execute
 * of BEGIN, then the statement's own Parse/Bind/Describe/Execute, then one Sync — written in one
 * socket write and answered in one round trip, where `query('BEGIN')` then `query(text)` took two
 * of each. Why: on the local pipeline each socket write to PostgreSQL cost about as much CPU as a
 * task's whole validation, and the dial gate's transaction made four per task (issue #17).
 *
 * Same semantics as the two queries: PostgreSQL runs the batch's messages in order; BEGIN opens a
 * transaction block, and a Sync inside an explicit transaction block leaves it open (PostgreSQL
 * docs, "Extended Query" in the protocol's message flow), so the statements that follow run in
 * the transaction exactly as after a separate BEGIN. `now()` is the BEGIN's instant as before.
 * An error in either skips to the Sync and rejects; if BEGIN ran, the transaction is left aborted
 * and the caller's ROLLBACK ends it, as it would after a failed first statement.
 *
 * Built on node-postgres's own Query (its extended-protocol path and result parsing), with two
 * overrides: `prepare` writes the BEGIN's messages first (inside Query.submit's cork, so all of it
 * leaves in one write), and `handleCommandComplete` drops the BEGIN's CommandComplete so the
 * result is the statement's alone. Covered by test/integration/begin-with.test.ts, which fails if
 * a node-postgres upgrade changes either hook.
 */
class BeginThenQuery extends pg.Query {
  private beginDone = false

  prepare(connection: PgConnection): void {
    connection.parse({ text: 'BEGIN' })
    connection.bind({})
    connection.execute({})
    ;(pg.Query.prototype as unknown as QueryHooks).prepare.call(this, connection)
  }

  handleCommandComplete(message: unknown, connection: PgConnection): void {
    if (!this.beginDone) {
      this.beginDone = true
      return
    }
    ;(pg.Query.prototype as unknown as QueryHooks).handleCommandComplete.call(this, message, connection)
  }
}

/** The parts of node-postgres's Connection and Query that BeginThenQuery uses (not in @types/pg). */
interface PgConnection {
  parse(query: { text: string }): void
  bind(config: object): void
  execute(config: object): void
}
interface QueryHooks {
  prepare(connection: PgConnection): void
  handleCommandComplete(message: unknown, connection: PgConnection): void
}

/**
 * Opens a transaction on `client` with `text` as its first statement, in one round trip; resolves
 * with that statement's result. `values` must be non-empty (the statement goes through the
 * extended protocol, as any query with parameters does). Bounded like any query on the pool
 * (query_timeout, src/db/pool.ts).
 */
export function beginWith<R extends pg.QueryResultRow>(
  client: pg.ClientBase,
  text: string,
  values: readonly unknown[],
): Promise<pg.QueryResult<R>> {
  if (values.length === 0) throw new Error('beginWith: the first statement must take parameters')
  return new Promise((resolve, reject) => {
    // text and values apart, not as a config object: node-postgres copies a config object's
    // property descriptors on every query
    const query = new BeginThenQuery(text, [...values], (error, result) =>
      error ? reject(error) : resolve(result as unknown as pg.QueryResult<R>),
    )
    client.query(query)
  })
}
