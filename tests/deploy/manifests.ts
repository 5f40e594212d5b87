/**
 * Offline checks for the deployment files: reading YAML, building `k8s/` as
 * `kubectl apply -k` would, and validating Kubernetes objects against the API
 * schemas.
 *
 * Validation uses two libraries from npm, because neither is enough alone:
 * `kubernetes-models` checks each object against the Kubernetes OpenAPI
 * schema (types, required fields, enumerations, quantity formats) but lets
 * unknown fields pass, while `kubectl apply` rejects them; the field lists of
 * the models generated in `@kubernetes/client-node` catch those (a misspelled
 * `readinesProbe` would otherwise be silently ignored).
 *
 * It does not:
 * - implement kustomize: {@linkcode kustomizeBuild} supports only a
 *   `resources` list of local files, which is all `k8s/kustomization.yaml`
 *   uses, and refuses any other field rather than ignoring it;
 * - apply API defaults, admission rules or anything else a cluster does.
 *
 * @module
 */

import * as clientNode from "@kubernetes/client-node";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { HorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import { Job } from "kubernetes-models/batch/v1/Job";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { parseAllDocuments } from "yaml";

/** A Kubernetes object as read from a manifest, with the file it came from. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/** A model class of `kubernetes-models`: construct, then `validate()` throws. */
type ModelClass = new (data: never) => { validate(): void };

/** The kinds the manifests may use, by `apiVersion/kind`. */
const MODELS: Record<string, ModelClass> = {
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "autoscaling/v2/HorizontalPodAutoscaler": HorizontalPodAutoscaler,
  "batch/v1/Job": Job,
  "networking.k8s.io/v1/NetworkPolicy": NetworkPolicy,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
};

/**
 * Reads every document of a YAML file, skipping empty ones.
 *
 * @throws {Error} naming the file on any YAML error or warning (duplicate keys included).
 */
export async function readYamlDocuments(path: string | URL): Promise<unknown[]> {
  const text = await Deno.readTextFile(path);
  const values: unknown[] = [];
  // `merge`: Compose resolves `<<: *anchor` merge keys, so these checks do too.
  for (const document of parseAllDocuments(text, { uniqueKeys: true, merge: true })) {
    const problems = [...document.errors, ...document.warnings];
    if (problems.length > 0) {
      throw new Error(`${path}: ${problems.map((problem) => problem.message).join("; ")}`);
    }
    const value = document.toJS();
    if (value !== null && value !== undefined) values.push(value);
  }
  return values;
}

/**
 * Reads a manifest file: every document must be an object with `apiVersion`,
 * `kind` and `metadata.name`.
 */
export async function readManifests(path: string | URL): Promise<Manifest[]> {
  const documents = await readYamlDocuments(path);
  return documents.map((document, index) => {
    const object = document as Partial<Manifest>;
    if (
      typeof object !== "object" || typeof object.apiVersion !== "string" ||
      typeof object.kind !== "string" || typeof object.metadata?.name !== "string"
    ) {
      throw new Error(`${path}: document ${index + 1} is not a Kubernetes object`);
    }
    return object as Manifest;
  });
}

/** The `resources` of a kustomization, in order, and the objects they hold. */
export interface KustomizeBuild {
  /** The resource file names as listed. */
  resources: string[];
  /** Every object, in file order (kustomize itself sorts them by kind). */
  objects: Manifest[];
}

/**
 * Builds a kustomization directory into the objects `kustomize build` would
 * produce (though not sorted by kind as kustomize sorts them). Resources are
 * YAML files in `dir` or other kustomization directories (an overlay's
 * base); `patches` are strategic-merge patch files, of which this supports
 * what the overlays use: maps merged key by key, lists of named items merged
 * by `name`, and `$patch: delete` on an object or a named list item.
 *
 * @param dir The directory holding `kustomization.yaml`, as a URL ending in `/`.
 * @throws {Error} on any other kustomization field, on a resource that is
 *   neither, on a patch whose target is not built, and on two objects with
 *   the same kind, namespace and name (kustomize refuses those too).
 */
export async function kustomizeBuild(dir: URL): Promise<KustomizeBuild> {
  const [kustomization] = await readYamlDocuments(new URL("kustomization.yaml", dir));
  const { apiVersion, kind, resources, patches = [], ...rest } = kustomization as Record<
    string,
    unknown
  >;
  if (apiVersion !== "kustomize.config.k8s.io/v1beta1" || kind !== "Kustomization") {
    throw new Error(`unexpected kustomization type ${apiVersion}/${kind}`);
  }
  const unsupported = Object.keys(rest);
  if (unsupported.length > 0) {
    throw new Error(`kustomization fields not supported here: ${unsupported.join(", ")}`);
  }
  if (!Array.isArray(resources) || !resources.every((entry) => typeof entry === "string")) {
    throw new Error("kustomization resources must be a list of file names");
  }
  let objects: Manifest[] = [];
  const seen = new Set<string>();
  const idOf = (object: Manifest) =>
    `${object.kind}/${object.metadata.namespace ?? ""}/${object.metadata.name}`;
  for (const resource of resources as string[]) {
    let found: Manifest[];
    if (/^(\.\.\/)+$/.test(resource)) {
      found = (await kustomizeBuild(new URL(resource, dir))).objects;
    } else if (!resource.includes("/") && /\.ya?ml$/.test(resource)) {
      found = await readManifests(new URL(resource, dir));
    } else {
      throw new Error(`resource ${resource}: only local YAML files and parent bases are supported`);
    }
    for (const object of found) {
      if (seen.has(idOf(object))) throw new Error(`${resource}: ${idOf(object)} is defined twice`);
      seen.add(idOf(object));
      objects.push(object);
    }
  }
  for (const { path } of patches as Array<{ path: string }>) {
    for (const patch of await readYamlDocuments(new URL(path, dir)) as Manifest[]) {
      const target = objects.findIndex((object) => idOf(object) === idOf(patch));
      if (target === -1) throw new Error(`${path}: ${idOf(patch)} is not in the build`);
      const { $patch, ...body } = patch as Manifest & { $patch?: string };
      if ($patch === "delete") objects = objects.filter((_, i) => i !== target);
      else objects[target] = strategicMerge(objects[target], body) as Manifest;
    }
  }
  return { resources: resources as string[], objects };
}

/** Merges `patch` into `base` as a strategic-merge patch does for maps and named lists. */
function strategicMerge(base: unknown, patch: unknown): unknown {
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  if (Array.isArray(base) && Array.isArray(patch) && patch.every((item) => item?.name)) {
    let merged = [...base];
    for (const item of patch) {
      const { $patch, ...rest } = item;
      const at = merged.findIndex((entry) => entry?.name === item.name);
      if ($patch === "delete") merged = merged.filter((_, i) => i !== at);
      else if (at === -1) merged.push(rest);
      else merged[at] = strategicMerge(merged[at], rest);
    }
    return merged;
  }
  if (!isMap(base) || !isMap(patch)) return patch;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(patch)) merged[key] = strategicMerge(base[key], value);
  return merged;
}

/**
 * Validates one object against the Kubernetes API schema of its kind and
 * rejects unknown fields.
 *
 * @returns every problem found, each naming the field; empty when valid.
 */
export function schemaErrors(object: Manifest): string[] {
  const key = `${object.apiVersion}/${object.kind}`;
  const Model = MODELS[key];
  if (!Model) return [`${key}: no schema known for this kind`];
  const errors: string[] = [];
  try {
    new Model(structuredClone(object) as never).validate();
  } catch (error) {
    errors.push((error as Error).message);
  }
  const version = object.apiVersion.split("/").pop()!;
  const className = version[0].toUpperCase() + version.slice(1) + object.kind;
  if (!CLIENT_MODELS[className]?.getAttributeTypeMap) {
    errors.push(`${key}: no field list known for this kind`);
  } else {
    unknownFields(object, className, "", errors);
  }
  return errors;
}

/** The generated client's models: attribute lists keyed by class name. */
const CLIENT_MODELS = clientNode as unknown as Record<
  string,
  { getAttributeTypeMap?: () => { baseName: string; type: string }[] } | undefined
>;

/** Adds an error for each field of `value` that the client model `type` does not have. */
function unknownFields(value: unknown, type: string, path: string, errors: string[]): void {
  if (value === null || typeof value !== "object") return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) {
      value.forEach((item, index) => unknownFields(item, array[1], `${path}[${index}]`, errors));
    }
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [key, item] of Object.entries(value)) {
      unknownFields(item, map[1], join(path, key), errors);
    }
    return;
  }
  const attributes = CLIENT_MODELS[type]?.getAttributeTypeMap?.();
  // Primitive types (string, number, IntOrString, ...) have no field list.
  if (!attributes) return;
  const known = new Map(attributes.map((attribute) => [attribute.baseName, attribute.type]));
  for (const [key, item] of Object.entries(value)) {
    const fieldType = known.get(key);
    if (fieldType === undefined) {
      errors.push(`${join(path, key)}: unknown field`);
    } else {
      unknownFields(item, fieldType, join(path, key), errors);
    }
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}
