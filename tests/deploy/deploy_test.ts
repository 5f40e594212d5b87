/**
 * Offline validation of the deployment files: `k8s/` (built as
 * `kubectl apply -k` would, and file by file) against the Kubernetes API
 * schemas, `compose.yaml` and the `Dockerfile`, all cross-checked against
 * what the server really reads and serves: its environment variables
 * (`ENV_VARS`), its ports and shutdown grace (`parseConfig` with the
 * configured environment), its HTTP paths (`HTTP_PATHS`) and the `server`
 * task's permissions.
 *
 * It needs no Docker engine, no cluster and no network (`--allow-read
 * --allow-env`). It does not check that images build or pods start.
 */

import assert from "node:assert/strict";
import { DockerfileParser, type Instruction } from "dockerfile-ast";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import type { IStatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import type { IHorizontalPodAutoscaler } from "kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler";
import type { IJob } from "kubernetes-models/batch/v1/Job";
import type { INetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import type { IPodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { ISecret } from "kubernetes-models/v1/Secret";
import type { IService } from "kubernetes-models/v1/Service";
import { ENV_VARS, parseConfig, type ServerConfig } from "../../lib/server/config.ts";
import { HTTP_PATHS } from "../../lib/ops/http.ts";
import {
  kustomizeBuild,
  type Manifest,
  readManifests,
  readYamlDocuments,
  schemaErrors,
} from "./manifests.ts";

const ROOT = new URL("../../", import.meta.url);
const K8S = new URL("k8s/", ROOT);
const NAMESPACE = "chat-app";
/** Manifests in k8s/ that `apply -k` leaves out on purpose. */
const ON_DEMAND = [
  "redis-secret.example.yaml",
  "chat-tls-secret.example.yaml",
  "loadtest-job.yaml",
];
/** Kinds that live outside any namespace. */
const CLUSTER_SCOPED = new Set(["Namespace"]);

const built = await kustomizeBuild(K8S);
const [exampleSecret] = await readManifests(new URL("redis-secret.example.yaml", K8S)) as (
  & Manifest
  & ISecret
)[];
const [tlsSecret] = await readManifests(new URL("chat-tls-secret.example.yaml", K8S)) as (
  & Manifest
  & ISecret
)[];
const [loadJob] = await readManifests(new URL("loadtest-job.yaml", K8S)) as (Manifest & IJob)[];
const compose = (await readYamlDocuments(new URL("compose.yaml", ROOT)))[0] as Compose;
const dockerfile = DockerfileParser.parse(await Deno.readTextFile(new URL("Dockerfile", ROOT)));
const denoJson = JSON.parse(await Deno.readTextFile(new URL("deno.json", ROOT))) as {
  tasks: Record<string, string>;
};

/** The one object of `kind` named `name` in the kustomize build. */
function find<T>(kind: string, name: string): Manifest & T {
  const matches = built.objects.filter((o) => o.kind === kind && o.metadata.name === name);
  assert.equal(matches.length, 1, `expected one ${kind} ${name} in k8s/`);
  return matches[0] as Manifest & T;
}

const deployment = find<IDeployment>("Deployment", "chat-server");
const redisSet = find<IStatefulSet>("StatefulSet", "redis");

/** A workload's pod template, with who owns it. */
interface PodTemplate {
  owner: string;
  labels: Record<string, string>;
  spec: IPodSpec;
}

function podTemplates(objects: Manifest[]): PodTemplate[] {
  return objects.flatMap((object) => {
    if (!["Deployment", "StatefulSet", "Job"].includes(object.kind)) return [];
    const { template } = (object as Manifest & IDeployment).spec!;
    return [{
      owner: `${object.kind}/${object.metadata.name}`,
      labels: template.metadata?.labels ?? {},
      spec: template.spec!,
    }];
  });
}

const templates = podTemplates([...built.objects, loadJob]);

function container(spec: IPodSpec, name: string): IContainer {
  const found = spec.containers.find((c) => c.name === name);
  assert.ok(found, `no container ${name}`);
  return found;
}

const chatContainer = container(deployment.spec!.template.spec!, "chat-server");
const redisContainer = container(redisSet.spec!.template.spec!, "redis");

/** True when every `selector` label is on the pod. */
function selects(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([key, value]) => labels[key] === value);
}

/** A container's environment, secrets taken from the example Secret. */
function containerEnv(c: IContainer): Record<string, string> {
  const env: Record<string, string> = {};
  for (const variable of c.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) {
      assert.equal(ref.name, exampleSecret.metadata.name, `${variable.name}: unknown Secret`);
      const value = exampleSecret.stringData?.[ref.key];
      assert.ok(value !== undefined, `${variable.name}: the Secret has no key ${ref.key}`);
      env[variable.name] = value;
    } else {
      assert.ok(variable.value !== undefined, `${variable.name}: only values and Secrets are used`);
      env[variable.name] = variable.value;
    }
  }
  return env;
}

/** The server's configuration for an environment, as the server would parse it. */
function serverConfig(env: Record<string, string>): ServerConfig {
  const parsed = parseConfig([], env);
  assert.equal(parsed.kind, "run");
  return (parsed as { kind: "run"; config: ServerConfig }).config;
}

function assertOnlyServerVariables(env: Record<string, string>, where: string): void {
  const unknown = Object.keys(env).filter((name) => !ENV_VARS.includes(name));
  assert.deepEqual(unknown, [], `${where} sets variables the server does not read`);
}

/** The container port a Service or probe port (number or name) refers to. */
function resolvePort(c: IContainer, port: number | string | undefined): number | undefined {
  const match = c.ports?.find((p) => p.containerPort === port || p.name === port);
  return match?.containerPort;
}

const chatConfig = serverConfig(containerEnv(chatContainer));

Deno.test("every object kustomize builds from k8s/ is valid against the Kubernetes API schemas", () => {
  assert.ok(built.objects.length > 0);
  for (const object of built.objects) {
    assert.deepEqual(schemaErrors(object), [], `${object.kind}/${object.metadata.name}`);
  }
});

Deno.test("each k8s/ file is valid alone and in its namespace, so applying them one by one works", async () => {
  assert.equal(built.resources[0], "namespace.yaml", "the Namespace must be applied first");
  const [namespace] = await readManifests(new URL("namespace.yaml", K8S));
  assert.equal(namespace.kind, "Namespace");
  assert.equal(namespace.metadata.name, NAMESPACE);
  for (const file of [...built.resources, ...ON_DEMAND]) {
    for (const object of await readManifests(new URL(file, K8S))) {
      const where = `${file}: ${object.kind}/${object.metadata.name}`;
      assert.deepEqual(schemaErrors(object), [], where);
      if (!CLUSTER_SCOPED.has(object.kind)) {
        assert.equal(object.metadata.namespace, NAMESPACE, `${where} has no namespace`);
      }
    }
  }
});

Deno.test("the kustomization lists every manifest in k8s/ except the example Secrets and the load test", async () => {
  const files: string[] = [];
  for await (const entry of Deno.readDir(K8S)) {
    if (/\.ya?ml$/.test(entry.name) && entry.name !== "kustomization.yaml") files.push(entry.name);
  }
  assert.deepEqual(files.sort(), [...built.resources, ...ON_DEMAND].sort());
  assert.ok(!built.objects.some((o) => o.kind === "Secret"), "apply -k must not ship a Secret");
});

Deno.test("the schema check rejects a wrongly typed field and a misspelled one", () => {
  const broken = structuredClone(deployment) as Manifest & IDeployment;
  (broken.spec as unknown as Record<string, unknown>).replicas = "three";
  const errors = schemaErrors(broken);
  assert.ok(errors.some((e) => e.includes("replicas")), errors.join("\n"));

  const misspelled = structuredClone(deployment) as Manifest & IDeployment;
  const probe = misspelled.spec!.template.spec!.containers[0].readinessProbe;
  Object.assign(misspelled.spec!.template.spec!.containers[0], { readinesProbe: probe });
  delete misspelled.spec!.template.spec!.containers[0].readinessProbe;
  assert.deepEqual(schemaErrors(misspelled), [
    "spec.template.spec.containers[0].readinesProbe: unknown field",
  ]);
});

Deno.test("workload, budget and policy selectors match the pod labels they mean", () => {
  for (const object of [deployment, redisSet]) {
    const { selector, template } = object.spec!;
    assert.ok(
      selects(selector.matchLabels, template.metadata?.labels ?? {}),
      `${object.kind}/${object.metadata.name}: selector does not match its pods`,
    );
  }
  const budget = find<IPodDisruptionBudget>("PodDisruptionBudget", "chat-server");
  assert.deepEqual(
    templates.filter((t) => selects(budget.spec!.selector!.matchLabels, t.labels)).map((t) =>
      t.owner
    ),
    ["Deployment/chat-server"],
  );
});

Deno.test("every Service selects pods of one workload and targets a port they declare", () => {
  const services = built.objects.filter((o) => o.kind === "Service") as (Manifest & IService)[];
  for (const service of services) {
    const where = `Service/${service.metadata.name}`;
    const matched = templates.filter((t) => selects(service.spec!.selector, t.labels));
    assert.equal(matched.length, 1, `${where} selects ${matched.length} workloads`);
    for (const port of service.spec!.ports!) {
      const found = matched[0].spec.containers.some((c) =>
        resolvePort(c, port.targetPort ?? port.port) !== undefined
      );
      assert.ok(found, `${where} port ${port.name} targets ${port.targetPort}, not declared`);
    }
  }
  const governing = find<IService>("Service", redisSet.spec!.serviceName!);
  assert.equal(governing.spec!.clusterIP, "None", "a StatefulSet's governing Service is headless");
});

Deno.test("the chat server's declared ports are the ones it listens on with its environment", () => {
  assert.equal(resolvePort(chatContainer, "chat"), chatConfig.port);
  assert.equal(resolvePort(chatContainer, "http"), chatConfig.httpPort);
  const nodePort = find<IService>("Service", "chat-server");
  assert.equal(nodePort.spec!.type, "NodePort");
  const [chat] = nodePort.spec!.ports!;
  assert.equal(chat.nodePort, 30060);
  assert.equal(resolvePort(chatContainer, chat.targetPort), chatConfig.port);
  // The per-address connection limit needs the clients' own addresses.
  assert.equal(nodePort.spec!.externalTrafficPolicy, "Local");
  // The browser page, on its own NodePort; never on the operations port.
  assert.equal(resolvePort(chatContainer, "web"), chatConfig.webPort);
  const web = find<IService>("Service", "chat-server-web");
  assert.equal(web.spec!.type, "NodePort");
  assert.equal(web.spec!.ports![0].nodePort, 30080);
  assert.equal(resolvePort(chatContainer, web.spec!.ports![0].targetPort), chatConfig.webPort);
  assert.notEqual(chatConfig.webPort, chatConfig.httpPort);
  const http = find<IService>("Service", "chat-server-http");
  assert.equal(http.spec!.type ?? "ClusterIP", "ClusterIP");
  assert.equal(resolvePort(chatContainer, http.spec!.ports![0].targetPort), chatConfig.httpPort);
});

Deno.test("the chat server serves TLS from the kubernetes.io/tls Secret it mounts, at paths its binary may read", () => {
  assert.ok(chatConfig.tls, "TLS_CERT and TLS_KEY are set");
  assert.equal(resolvePort(chatContainer, "chat-tls"), chatConfig.tls.port);
  const [, tls] = find<IService>("Service", "chat-server").spec!.ports!;
  assert.equal(resolvePort(chatContainer, tls.targetPort), chatConfig.tls.port);
  assert.equal(tls.nodePort, 30697);

  assert.equal(tlsSecret.type, "kubernetes.io/tls");
  assert.deepEqual(Object.keys(tlsSecret.stringData ?? {}).sort(), ["tls.crt", "tls.key"]);
  assert.equal(tlsSecret.data, undefined, "the example holds no encoded value");
  assert.match(Object.values(tlsSecret.stringData!).join(), /EXAMPLE/);
  const volume = deployment.spec!.template.spec!.volumes!.find((v) =>
    v.secret?.secretName === tlsSecret.metadata.name
  );
  assert.ok(volume, "the Deployment mounts the TLS Secret");
  assert.notEqual(volume.secret!.optional, true, "a missing certificate must stop the pod");
  const mount = chatContainer.volumeMounts!.find((m) => m.name === volume.name)!;
  assert.equal(mount.readOnly, true);
  assert.equal(chatConfig.tls.certFile, `${mount.mountPath}/tls.crt`);
  assert.equal(chatConfig.tls.keyFile, `${mount.mountPath}/tls.key`);
  // The image's binary may read exactly the files its build arguments name.
  const args = Object.fromEntries(
    instructions(
      stages.find((stage) => stage[0].getArgumentsContent()!.includes(" AS build"))!,
      "ARG",
    )
      .map((arg) => arg.getArgumentsContent()!.split("=")),
  );
  assert.equal(args.TLS_CERT, chatConfig.tls.certFile);
  assert.equal(args.TLS_KEY, chatConfig.tls.keyFile);
});

Deno.test("the probes ask the HTTP port for paths it serves: /readyz for readiness, /healthz for liveness", () => {
  const readiness = chatContainer.readinessProbe?.httpGet;
  const liveness = chatContainer.livenessProbe?.httpGet;
  assert.ok(readiness && liveness, "both probes are HTTP GETs");
  assert.equal(readiness.path, "/readyz");
  assert.equal(liveness.path, "/healthz");
  for (const probe of [readiness, liveness]) {
    assert.ok((HTTP_PATHS as readonly string[]).includes(probe.path!), `${probe.path} not served`);
    assert.equal(resolvePort(chatContainer, probe.port), chatConfig.httpPort);
  }
});

Deno.test("the chat server's Kubernetes environment holds only variables it reads and points at the redis Service", () => {
  const env = containerEnv(chatContainer);
  assertOnlyServerVariables(env, "k8s/chat-server.yaml");
  assert.ok(chatConfig.redis, "REDIS_HOST or REDIS_URL must be set");
  const url = new URL(chatConfig.redis.url);
  const redis = find<IService>("Service", url.hostname);
  assert.ok(redis.spec!.ports!.some((p) => p.port === Number(url.port)), "wrong Redis port");
  assert.equal(chatConfig.redis.password, exampleSecret.stringData!.password);
});

Deno.test("Secrets are referenced by the name and key of the example, which is plainly fake", () => {
  const refs = [...templates.flatMap((t) => t.spec.containers)].flatMap((c) =>
    (c.env ?? []).flatMap((e) => e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : [])
  );
  assert.ok(refs.length >= 2, "Redis and the chat server both read the password");
  for (const ref of refs) {
    assert.equal(ref.name, exampleSecret.metadata.name);
    assert.ok(ref.key in (exampleSecret.stringData ?? {}), `no key ${ref.key}`);
    assert.notEqual(
      ref.optional,
      true,
      "a missing Secret must stop the pod, not unset the password",
    );
  }
  assert.equal(exampleSecret.data, undefined, "the example holds no encoded value");
  assert.match(Object.values(exampleSecret.stringData!).join(), /EXAMPLE/);
});

Deno.test("the autoscaler sizes the chat-server Deployment from 1 to 10 pods at 70% CPU and 80% memory", () => {
  const hpa = find<IHorizontalPodAutoscaler>("HorizontalPodAutoscaler", "chat-server-hpa");
  const spec = hpa.spec!;
  assert.deepEqual(spec.scaleTargetRef, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    name: deployment.metadata.name,
  });
  assert.equal(spec.minReplicas, 1);
  assert.equal(spec.maxReplicas, 10);
  const targets = Object.fromEntries(
    spec.metrics!.map((m) => [m.resource!.name, m.resource!.target]),
  );
  assert.deepEqual(targets, {
    cpu: { type: "Utilization", averageUtilization: 70 },
    memory: { type: "Utilization", averageUtilization: 80 },
  });
  assert.ok((spec.behavior?.scaleDown?.stabilizationWindowSeconds ?? 0) >= 60);
  // A replica count in the Deployment would reset the autoscaler's on every apply.
  assert.equal(deployment.spec!.replicas, undefined);
});

Deno.test("every container has CPU and memory requests and limits", () => {
  for (const template of templates) {
    for (const c of template.spec.containers) {
      for (const kind of ["requests", "limits"] as const) {
        for (const resource of ["cpu", "memory"]) {
          assert.ok(
            c.resources?.[kind]?.[resource] !== undefined,
            `${template.owner} ${c.name}: no ${resource} ${kind}`,
          );
        }
      }
    }
  }
});

Deno.test("a stopping chat-server pod gets longer than its preStop pause plus SHUTDOWN_GRACE", () => {
  const pause = chatContainer.lifecycle?.preStop?.sleep?.seconds;
  assert.ok(pause !== undefined && pause > 0, "preStop sleeps");
  const grace = deployment.spec!.template.spec!.terminationGracePeriodSeconds ?? 30;
  assert.ok(
    grace > pause + chatConfig.shutdownGraceMs / 1000,
    `terminationGracePeriodSeconds ${grace} <= ${pause} + ${chatConfig.shutdownGraceMs / 1000}`,
  );
});

Deno.test("every pod runs as non-root with a read-only root, no privilege escalation and no capabilities", () => {
  for (const template of templates) {
    const pod = template.spec.securityContext;
    assert.equal(pod?.runAsNonRoot, true, template.owner);
    assert.ok((pod?.runAsUser ?? 0) > 0, `${template.owner}: numeric non-root user`);
    assert.equal(pod?.seccompProfile?.type, "RuntimeDefault", template.owner);
    for (const c of template.spec.containers) {
      const where = `${template.owner} ${c.name}`;
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, where);
      assert.equal(c.securityContext?.allowPrivilegeEscalation, false, where);
      assert.deepEqual(c.securityContext?.capabilities?.drop, ["ALL"], where);
    }
  }
});

Deno.test("the NetworkPolicy admits only chat-server pods to Redis, on the Redis port", () => {
  const policy = built.objects.find((o) => o.kind === "NetworkPolicy") as Manifest & INetworkPolicy;
  assert.ok(policy, "a NetworkPolicy exists");
  const spec = policy.spec!;
  assert.ok(selects(spec.podSelector?.matchLabels, redisSet.spec!.template.metadata!.labels!));
  assert.deepEqual(spec.policyTypes, ["Ingress"]);
  assert.equal(spec.ingress?.length, 1);
  const [rule] = spec.ingress!;
  assert.equal(rule.from?.length, 1);
  const [peer] = rule.from!;
  assert.equal(peer.namespaceSelector, undefined);
  assert.equal(peer.ipBlock, undefined);
  assert.deepEqual(
    templates.filter((t) => selects(peer.podSelector?.matchLabels, t.labels)).map((t) => t.owner),
    ["Deployment/chat-server"],
  );
  assert.deepEqual(
    rule.ports?.map((p) => p.port),
    [resolvePort(redisContainer, "redis")],
  );
});

Deno.test("Redis keeps an append-only file on a persistent volume, with the same image as Compose", () => {
  const claims = redisSet.spec!.volumeClaimTemplates ?? [];
  assert.equal(claims.length, 1);
  const mount = redisContainer.volumeMounts?.find((m) => m.name === claims[0].metadata?.name);
  assert.ok(mount, "the claim is mounted");
  const script = [...(redisContainer.command ?? []), ...(redisContainer.args ?? [])].join(" ");
  assert.match(script, /--appendonly yes/);
  assert.match(script, new RegExp(`--dir ${mount.mountPath}(\\s|$)`));
  assert.match(script, /requirepass "\$REDIS_PASSWORD"/);
  assert.equal(redisContainer.image, compose.services.redis.image);
});

Deno.test("the load test Job targets the chat-server Service on its chat port", () => {
  const args = container(loadJob.spec!.template.spec!, "bench").args ?? [];
  const option = (name: string) => args[args.indexOf(name) + 1];
  const service = find<IService>("Service", option("--host"));
  assert.ok(service.spec!.ports!.some((p) => p.port === Number(option("--port"))));
  assert.ok(selects(service.spec!.selector, deployment.spec!.template.metadata!.labels!));
});

Deno.test("every image is pinned to a tag other than latest", () => {
  const images = [
    ...templates.flatMap((t) => t.spec.containers.map((c) => c.image!)),
    ...Object.values(compose.services).flatMap((s) => s.image ? [s.image] : []),
  ];
  for (const image of images) {
    assert.match(image, /^[^:@]+(:[\w.-]+)?(@sha256:[0-9a-f]{64})?$/, image);
    const tag = /:([\w.-]+)/.exec(image)?.[1];
    assert.ok(tag && tag !== "latest", `${image}: pin a tag`);
  }
});

// --- Compose ---

/** The parts of a Compose service these checks read. */
interface ComposeService {
  image?: string;
  build?: string | { context: string };
  command?: string[];
  environment?: Record<string, string | number | null>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  profiles?: string[];
}

/** The parts of compose.yaml these checks read. */
interface Compose {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/**
 * Compose's variable interpolation: `$$`, `$NAME`, `${NAME}`, `${NAME-default}`
 * and `${NAME:-default}`; any other form is refused so a check cannot pass on
 * text Compose would read differently.
 */
function interpolate(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([^}]*)\}|\$([A-Za-z_]\w*)/g, (token, braced, bare) => {
    if (token === "$$") return "$";
    if (bare) return vars[bare] ?? "";
    const match = /^([A-Za-z_]\w*)(?:(:?[-+])(.*))?$/.exec(braced);
    assert.ok(match, `unsupported interpolation ${token}`);
    const [, name, operator, fallback] = match;
    const value = vars[name];
    if (operator === ":-") return value ? value : fallback;
    if (operator === "-") return value ?? fallback;
    if (operator === ":+") return value ? fallback : "";
    if (operator === "+") return value === undefined ? "" : fallback;
    return value ?? "";
  });
}

/** A service's environment after interpolation with the shell's `vars`. */
function composeEnv(service: ComposeService, vars: Record<string, string> = {}) {
  return Object.fromEntries(
    Object.entries(service.environment ?? {}).map((
      [name, value],
    ) => [name, interpolate(String(value ?? ""), vars)]),
  );
}

/** Seconds in a Compose duration such as `25s` or `1m30s`. */
function durationSeconds(text: string): number {
  const match = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(text);
  assert.ok(match && text !== "", `unsupported duration ${text}`);
  return Number(match[1] ?? 0) * 60 + Number(match[2] ?? 0);
}

const chatService = compose.services["chat-server"];
const redisService = compose.services.redis;
const composeConfig = serverConfig(composeEnv(chatService));

Deno.test("Compose starts the chat server after Redis is healthy, configured only with variables it reads", () => {
  assert.ok(chatService.build, "the chat server is built from the Dockerfile");
  assert.deepEqual(chatService.depends_on, { redis: { condition: "service_healthy" } });
  assert.equal(redisService.healthcheck?.test[0], "CMD-SHELL");
  assert.match(redisService.healthcheck!.test[1], /redis-cli ping/);
  assertOnlyServerVariables(composeEnv(chatService), "compose.yaml");
  assert.ok(composeConfig.redis, "REDIS_HOST or REDIS_URL must be set");
  const url = new URL(composeConfig.redis.url);
  assert.ok(url.hostname in compose.services, `${url.hostname} is not a Compose service`);
  assert.equal(url.port, "6379");
});

Deno.test("Compose publishes the ports the chat server listens on, TLS's too", () => {
  const containerPorts = (chatService.ports ?? []).map((mapping) =>
    Number(mapping.replace(/\/tcp$/, "").split(":").at(-1))
  );
  const tls = serverConfig(composeEnv(chatService, { CHAT_TLS_DIR: "./tls" })).tls;
  assert.ok(tls, "CHAT_TLS_DIR turns TLS on");
  assert.equal(composeConfig.tls, null, "and without it TLS stays off");
  assert.deepEqual(
    containerPorts.sort(),
    [composeConfig.port, tls.port, composeConfig.httpPort, composeConfig.webPort].sort(),
  );
});

Deno.test("Compose mounts the certificate folder CHAT_TLS_DIR names, read-only, where TLS_CERT and TLS_KEY point", () => {
  const tls = serverConfig(composeEnv(chatService, { CHAT_TLS_DIR: "/srv/certs" })).tls!;
  const mounts = (chatService as { volumes?: string[] }).volumes ?? [];
  const mount = mounts.map((m) => interpolate(m, { CHAT_TLS_DIR: "/srv/certs" }).split(":"))
    .find(([source]) => source === "/srv/certs");
  assert.ok(mount, mounts.join());
  const [, target, mode] = mount;
  assert.equal(mode, "ro");
  assert.equal(tls.certFile, `${target}/tls.crt`);
  assert.equal(tls.keyFile, `${target}/tls.key`);
});

Deno.test("Compose keeps Redis's append-only file on a named volume and gives the password to both services", () => {
  const script = (redisService.command ?? []).join(" ");
  assert.match(script, /--appendonly yes/);
  const dir = /--dir (\S+)/.exec(script)?.[1];
  const volume = (redisService.volumes ?? []).map((v) => v.split(":")).find(([, path]) =>
    path === dir
  );
  assert.ok(volume, `nothing is mounted at the Redis directory ${dir}`);
  assert.ok(volume[0] in (compose.volumes ?? {}), `${volume[0]} is not a named volume`);

  const withPassword = { REDIS_PASSWORD: "s3cret" };
  assert.equal(composeEnv(redisService, withPassword).REDIS_PASSWORD, "s3cret");
  assert.equal(serverConfig(composeEnv(chatService, withPassword)).redis?.password, "s3cret");
  // Without one, Redis starts without requirepass and the server sends none.
  assert.equal(composeEnv(redisService).REDIS_PASSWORD, "");
  assert.equal(composeConfig.redis?.password, undefined);
  assert.match(interpolate(script, {}), /\$\{REDIS_PASSWORD:\+requirepass "\$REDIS_PASSWORD"\}/);
});

Deno.test("Compose gives the chat server longer to stop than SHUTDOWN_GRACE", () => {
  const period = durationSeconds(chatService.stop_grace_period ?? "10s");
  assert.ok(period > composeConfig.shutdownGraceMs / 1000, `stop_grace_period ${period}s`);
});

// --- Dockerfile ---

/** The Dockerfile's instructions, split into stages by FROM. */
const stages: Instruction[][] = [];
for (const instruction of dockerfile.getInstructions()) {
  if (instruction.getKeyword() === "FROM") stages.push([]);
  stages.at(-1)!.push(instruction);
}
const finalStage = stages.at(-1)!;

function instructions(stage: Instruction[], keyword: string): Instruction[] {
  return stage.filter((i) => i.getKeyword() === keyword);
}

function args(instruction: Instruction): string[] {
  return instruction.getArguments().map((a) => a.getValue());
}

/** The `deno compile` command that writes `output`. */
function compileCommand(output: string): string[] {
  const commands = dockerfile.getInstructions()
    .filter((i) => i.getKeyword() === "RUN")
    .map(args)
    .filter((words) => words[0] === "deno" && words[1] === "compile");
  const found = commands.find((words) => words[words.indexOf("--output") + 1] === output);
  assert.ok(found, `no deno compile writes ${output}`);
  return found.slice(0, found.indexOf("&&") === -1 ? undefined : found.indexOf("&&"));
}

/** The permissions and V8 settings among a command's words. */
function runtimeFlags(words: string[]): string[] {
  return words.filter((word) => /^--(allow-|v8-flags=)/.test(word)).sort();
}

Deno.test("the Dockerfile pins its base images to the Deno version CI tests with", async () => {
  const stageNames = new Set(dockerfile.getFROMs().map((from) => from.getBuildStage()));
  for (const from of dockerfile.getFROMs()) {
    if (stageNames.has(from.getImage()!)) continue;
    const tag = from.getImageTag();
    assert.ok(tag && tag !== "latest", `${from.getImage()}: pin a tag`);
  }
  const ci = await Deno.readTextFile(new URL(".ci/run", ROOT));
  const version = /^DENO_VERSION=(\S+)$/m.exec(ci)?.[1];
  const deno = dockerfile.getFROMs().find((from) => from.getImageName() === "denoland/deno");
  assert.equal(deno?.getImageTag(), version);
});

Deno.test("the image's binary is compiled with exactly the server task's permissions and V8 settings", () => {
  const copy = instructions(finalStage, "COPY").map(args).find((words) =>
    words.at(-1) === "/app/chat-server"
  );
  assert.ok(copy, "the final stage copies the binary to /app/chat-server");
  const compiled = compileCommand(copy.at(-2)!);
  assert.equal(compiled.at(-1), "server.ts");
  const task = runtimeFlags(denoJson.tasks.server.split(/\s+/));
  assert.deepEqual(runtimeFlags(compiled), task);
  // The compile task builds the same binary outside Docker.
  const compileServer = (denoJson.tasks.compile ?? "").split("&&").map((part) => part.split(/\s+/))
    .find((words) => words.includes("compile") && words.includes("server.ts"));
  assert.ok(compileServer, "the compile task compiles server.ts");
  assert.deepEqual(runtimeFlags(compileServer), task);
});

Deno.test("the image runs as a numeric non-root user, exposes the server's ports and checks health without a shell", () => {
  assert.match(finalStage[0].getArgumentsContent()!, /^gcr\.io\/distroless\/cc-debian12:nonroot/);
  const [user] = instructions(finalStage, "USER").map(args).at(-1)!;
  const uid = Number(user.split(":")[0]);
  assert.ok(Number.isInteger(uid) && uid > 0, `USER ${user}: numeric and not root`);
  const defaults = serverConfig({});
  const tls = serverConfig({ TLS_CERT: "/c", TLS_KEY: "/k" }).tls!;
  const exposed = instructions(finalStage, "EXPOSE").flatMap(args).map(Number);
  assert.deepEqual(
    exposed.sort(),
    [defaults.port, tls.port, defaults.httpPort, defaults.webPort].sort(),
  );

  const [healthcheck] = instructions(finalStage, "HEALTHCHECK");
  const command = /^CMD\s+(\[.*\])$/s.exec(healthcheck.getArgumentsContent()!.trim());
  assert.ok(command, "HEALTHCHECK CMD in exec form");
  const [entrypoint] = instructions(finalStage, "ENTRYPOINT");
  const binary = JSON.parse(entrypoint.getArgumentsContent()!) as string[];
  assert.deepEqual(JSON.parse(command[1]), [...binary, "healthcheck"]);
});

/** Every local module reachable from `entry` by static or dynamic import, relative to ROOT. */
async function localModules(entry: string): Promise<string[]> {
  const found = new Set<string>();
  const pending = [new URL(entry, ROOT)];
  while (pending.length > 0) {
    const url = pending.pop()!;
    const path = url.pathname.slice(ROOT.pathname.length);
    // Build output (the bundled page): made by a RUN in the image, not copied.
    if (found.has(path) || path.startsWith("dist/")) continue;
    found.add(path);
    const source = await Deno.readTextFile(url);
    for (const [, specifier] of source.matchAll(/(?:from|import)\s*\(?\s*"(\.{1,2}\/[^"]+)"/g)) {
      pending.push(new URL(specifier, url));
    }
  }
  return [...found].sort();
}

Deno.test("the Docker build context and COPY lines include every module the server and the bench import", async () => {
  const ignore = (await Deno.readTextFile(new URL(".dockerignore", ROOT)))
    .split("\n").map((line) => line.trim()).filter((line) => line && !line.startsWith("#"));
  assert.equal(ignore[0], "*", ".dockerignore is an allowlist");
  assert.ok(ignore.slice(1).every((line) => line.startsWith("!")));
  const allowed = ignore.slice(1).map((line) => line.slice(1).replace(/\/$/, ""));
  const copied = dockerfile.getInstructions()
    .filter((i) => i.getKeyword() === "COPY" && !args(i).some((a) => a.startsWith("--from")))
    .flatMap((i) => args(i).slice(0, -1).map((source) => source.replace(/\/$/, "")));
  const covers = (entries: string[], path: string) =>
    entries.some((entry) => path === entry || path.startsWith(entry + "/"));
  for (const entry of ["server.ts", "tests/bench/load.ts"]) {
    for (const module of [...await localModules(entry), "deno.json", "deno.lock"]) {
      assert.ok(covers(allowed, module), `.dockerignore leaves out ${module}`);
      assert.ok(covers(copied, module), `no COPY brings ${module} into the build`);
    }
  }
});

// --- Redis Sentinel: k8s/overlays/sentinel and Compose's `sentinel` profile ---

const sentinelBuild = await kustomizeBuild(new URL("overlays/sentinel/", K8S));

Deno.test("the Sentinel overlay builds valid objects: three Redis pods with a Sentinel each, and no single Redis", () => {
  for (const object of sentinelBuild.objects) {
    assert.deepEqual(schemaErrors(object), [], `${object.kind}/${object.metadata.name}`);
  }
  const names = sentinelBuild.objects.map((o) => `${o.kind}/${o.metadata.name}`);
  assert.ok(!names.includes("StatefulSet/redis") && !names.includes("Service/redis"));
  const nodes = sentinelBuild.objects.find((o) => o.metadata.name === "redis-node") as
    & Manifest
    & IStatefulSet;
  assert.equal(nodes.spec!.replicas, 3);
  const spec = nodes.spec!.template.spec!;
  assert.deepEqual(spec.containers.map((c) => c.name), ["redis", "sentinel"]);
  assert.equal(container(spec, "redis").image, redisContainer.image);
  assert.match(container(spec, "sentinel").command!.join(" "), /sentinel monitor mymaster .* 2\b/);
  for (const template of podTemplates(sentinelBuild.objects)) {
    for (const c of template.spec.containers) {
      assert.equal(c.securityContext?.readOnlyRootFilesystem, true, `${template.owner} ${c.name}`);
      assert.ok(c.resources?.limits?.memory, `${template.owner} ${c.name} has no memory limit`);
    }
  }
});

Deno.test("in the Sentinel overlay the chat server asks the redis-sentinel Service for the master", () => {
  const chat = sentinelBuild.objects.find((o) => o.kind === "Deployment") as Manifest & IDeployment;
  const env = containerEnv(container(chat.spec!.template.spec!, "chat-server"));
  assertOnlyServerVariables(env, "the Sentinel overlay");
  const config = serverConfig(env);
  assert.deepEqual(config.redis?.sentinels, [{ host: "redis-sentinel", port: 26379 }]);
  assert.equal(config.redis?.password, exampleSecret.stringData?.password);
  const service = sentinelBuild.objects.find((o) => o.metadata.name === "redis-sentinel") as
    & Manifest
    & IService;
  assert.equal(service.spec!.ports![0].port, 26379);
  const nodes = podTemplates(sentinelBuild.objects)
    .find((t) => t.owner === "StatefulSet/redis-node")!;
  assert.ok(selects(service.spec!.selector, nodes.labels));
});

Deno.test("Compose's sentinel profile runs a master, a replica and three Sentinels for a chat server", () => {
  const profiled = Object.entries(compose.services)
    .filter(([, service]) => service.profiles?.includes("sentinel"))
    .map(([name]) => name).sort();
  assert.deepEqual(profiled, [
    "chat-server-sentinel",
    "redis-primary",
    "redis-replica",
    "sentinel-1",
    "sentinel-2",
    "sentinel-3",
  ]);
  const chat = compose.services["chat-server-sentinel"];
  assertOnlyServerVariables(composeEnv(chat), "compose.yaml chat-server-sentinel");
  const config = serverConfig(composeEnv(chat));
  for (const { host } of config.redis?.sentinels ?? []) assert.ok(host in compose.services, host);
  assert.equal(config.redis?.sentinels?.length, 3);
  assert.match(compose.services["redis-replica"].command!.join(" "), /--replicaof redis-primary/);
});
