/**
 * Kubernetes objects from YAML, checked against the Kubernetes OpenAPI
 * schemas without kubectl or a cluster: kubernetes-models' generated
 * validators for the built-in kinds, @kubernetes-models/prometheus-operator's
 * for ServiceMonitor and PrometheusRule (picked by apiVersion and kind).
 *
 * validate() checks types, required fields and enums but does not refuse an
 * unknown field, so the tests also pin the fields that matter by value.
 */
import fs from 'node:fs';
import * as models from 'kubernetes-models';
import { parseAllDocuments } from 'yaml';

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** Every non-empty document of a YAML stream; a syntax error throws naming the source. */
export function parseObjects(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((doc) => {
    if (doc.errors.length > 0) throw new Error(`${source}: ${doc.errors[0].message}`);
    const value = doc.toJS() as K8sObject | null;
    return value === null ? [] : [value];
  });
}

export const readObjects = (file: string): K8sObject[] => parseObjects(fs.readFileSync(file, 'utf8'), file);

type Model = new (data: unknown) => { validate(): void };
type ModelTree = { [key: string]: ModelTree | Model };

// The operator's package is ESM only (its "exports" have no require condition):
// a real dynamic import, which TypeScript's CommonJS output would turn into require().
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<ModelTree>;

/** "rbac.authorization.k8s.io" → "rbacAuthorizationK8sIo", as the packages name their group folders. */
const groupKey = (group: string): string => group.replace(/[.-]([a-z0-9])/g, (_, c: string) => c.toUpperCase());

async function modelFor(apiVersion: string, kind: string): Promise<Model> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const root = group === 'monitoring.coreos.com' ? await importEsm('@kubernetes-models/prometheus-operator') : (models as unknown as ModelTree);
  const byGroup = group === '' ? root : (root[groupKey(group)] as ModelTree | undefined);
  const model = (byGroup?.[version] as ModelTree | undefined)?.[kind];
  if (typeof model !== 'function') throw new Error(`no schema for ${apiVersion} ${kind}`);
  return model;
}

/** Throws the schema's complaint ("data/spec/…/containerPort must be integer"), prefixed with the object's kind and name. */
export async function validateObject(obj: K8sObject): Promise<void> {
  const Model = await modelFor(obj.apiVersion, obj.kind);
  try {
    new Model(obj).validate();
  } catch (e) {
    throw new Error(`${obj.kind}/${obj.metadata?.name}: ${(e as Error).message}`);
  }
}
