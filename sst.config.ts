// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- SST declares its globals this way
/// <reference path="./.sst/platform/config.d.ts" />

/**
 * dialctl's AWS stage: `npx sst deploy --stage NAME`. One module per concern under `stacks/`;
 * `run()` returns the outputs dialctl reads (from `.sst/outputs.json`) to find a stage's resources.
 */
export default $config({
  app(input) {
    return {
      name: 'dialctl',
      // Production keeps its data (PostgreSQL, VPC) when the stage is removed; other stages clean up.
      removal: input?.stage === 'production' || input?.stage === 'prod' ? 'retain' : 'remove',
      protect: input?.stage === 'production' || input?.stage === 'prod',
      home: 'aws',
      // Pinned: `sst install` fetches exactly this provider package from npm.
      providers: { aws: '7.20.0' },
    }
  },
  async run() {
    const { outputs } = await import('./stacks')
    return outputs
  },
})
