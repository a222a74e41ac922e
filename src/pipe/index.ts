export * from './pattern.js'
export * from './state.js'
export * from './local-pipe.js'
