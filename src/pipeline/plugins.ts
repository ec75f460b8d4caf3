/**
 * Processor plugins by module path: the built-ins plus user modules named in
 * the configuration. The engine loads them on its thread (for their families)
 * and every shard worker loads them again (for their code).
 */
import path from 'node:path';
import { TracerError } from '../errors';
import type { ProcessorPlugin } from './processor';
import { BUILTIN_PROCESSORS } from './processors';

export function loadPlugins(modules: readonly string[]): ProcessorPlugin[] {
  const plugins = [...BUILTIN_PROCESSORS];
  for (const [i, module] of modules.entries()) {
    const where = `processors[${i}] (${module})`;
    let loaded: unknown;
    try {
      loaded = require(path.resolve(module));
    } catch (e) {
      throw new TracerError('HT_ERR_OPTION', `${where}: cannot be loaded: ${(e as Error).message}`);
    }
    const plugin = ((loaded as { default?: unknown }).default ?? loaded) as Partial<ProcessorPlugin>;
    if (typeof plugin.name !== 'string' || !Array.isArray(plugin.families) || typeof plugin.create !== 'function') {
      throw new TracerError('HT_ERR_OPTION', `${where}: must export { name: string, families: MetricFamily[], create(context) }`);
    }
    if (plugins.some((p) => p.name === plugin.name)) throw new TracerError('HT_ERR_OPTION', `${where}: a processor named ${JSON.stringify(plugin.name)} exists already`);
    for (const f of plugin.families) {
      if (plugins.some((p) => p.families.some((g) => g.name === f.name))) {
        throw new TracerError('HT_ERR_OPTION', `${where}: family ${JSON.stringify(f.name)} is already written by another processor`);
      }
      if (!f.labels.includes(f.serviceLabel)) throw new TracerError('HT_ERR_OPTION', `${where}: family ${f.name}: serviceLabel ${JSON.stringify(f.serviceLabel)} is not one of its labels`);
    }
    plugins.push(plugin as ProcessorPlugin);
  }
  return plugins;
}
