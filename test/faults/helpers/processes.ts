import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

/** A port nobody listens on right now (bind 0, read it, close). */
export async function freePort(): Promise<number> {
  const server = net.createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as net.AddressInfo
  await new Promise((r) => server.close(r))
  return port
}

/**
 * A child process of ours (the built worker, or `dialctl dev`) whose output we keep for the log
 * scan, and which we can SIGKILL: that is what a crash or an OOM kill looks like.
 */
export class Child {
  readonly proc: ChildProcess
  private out = ''
  /** the process ended and its output streams are closed: `out` is complete */
  private closed = false
  readonly exited: Promise<number | null>

  constructor(command: string, args: string[], env: Record<string, string>) {
    this.proc = spawn(command, args, {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString('utf8')))
    this.proc.stderr!.on('data', (d: Buffer) => (this.out += d.toString('utf8')))
    this.exited = new Promise((resolve) => this.proc.once('exit', (code) => resolve(code)))
    this.proc.once('close', () => (this.closed = true))
  }

  get output(): string {
    return this.out
  }

  get pid(): number {
    return this.proc.pid!
  }

  /**
   * Resolves when `pattern` appears in the output; rejects if the process exits or time runs out.
   * Checked on each chunk of output, not on a timer.
   */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error) => {
        clearTimeout(timer)
        this.proc.stdout!.off('data', check)
        this.proc.stderr!.off('data', check)
        this.proc.off('close', onExit)
        if (error) reject(error)
        else resolve()
      }
      // runs after the constructor's own 'data' listeners (added first), so `out` holds the chunk
      const check = () => {
        if (pattern.test(this.out)) finish()
      }
      const onExit = () =>
        finish(
          new Error(
            `process exited (${this.proc.exitCode ?? this.proc.signalCode}) before ${pattern}:\n${this.tail()}`,
          ),
        )
      const timer = setTimeout(
        () => finish(new Error(`no ${pattern} after ${timeoutMs} ms:\n${this.tail()}`)),
        timeoutMs,
      )
      this.proc.stdout!.on('data', check)
      this.proc.stderr!.on('data', check)
      this.proc.once('close', onExit)
      if (pattern.test(this.out)) finish()
      else if (this.closed) onExit()
    })
  }

  tail(lines = 30): string {
    return this.out.split('\n').slice(-lines).join('\n')
  }

  /** SIGKILL: no shutdown handler runs, nothing is flushed or drained. */
  async kill(): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.kill('SIGKILL')
    await this.exited
  }

  /** SIGTERM and wait (bounded), then SIGKILL: for cleanup. */
  async stop(timeoutMs = 20_000): Promise<void> {
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return
    this.proc.kill('SIGTERM')
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs)
    await this.exited
    clearTimeout(timer)
  }
}

/** The built worker (`node dist/worker/main.js`), as deployed, on `port`. */
export function startWorkerProcess(env: Record<string, string>): Child {
  return new Child(process.execPath, [join(ROOT, 'dist', 'worker', 'main.js')], env)
}

/** `dialctl dev` (the built CLI, bin/run.js), as a user runs it. */
export function startDevProcess(args: string[], env: Record<string, string>): Child {
  return new Child(process.execPath, [join(ROOT, 'bin', 'run.js'), 'dev', ...args], env)
}
