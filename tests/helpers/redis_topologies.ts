/**
 * Real Redis topologies on loopback for one test: a master with a replica
 * watched by three Sentinels, and a three-master Redis Cluster. Every
 * process is a {@linkcode RedisServer} on its own free port and temporary
 * directory, and `await using` stops them all.
 *
 * Sentinels here decide quickly (a master is down after 1 s without an
 * answer), so a failover in a test takes a few seconds, not a minute.
 *
 * It does not start chat servers or clients, and it never touches a Redis it
 * did not start. Needs the permissions of `redis.ts`.
 *
 * @module
 */

import { poll } from "./poll.ts";
import { RedisServer, type RespValue } from "./redis.ts";

/** A master, one replica, and three Sentinels monitoring the master as `mymaster`. */
export class SentinelSet {
  /** The Sentinels; `REDIS_SENTINELS` lists them. */
  readonly sentinels: RedisServer[];
  /** The master at start (it may be killed by the test). */
  readonly master: RedisServer;
  /** The replica at start (promoted after a failover). */
  readonly replica: RedisServer;

  private constructor(master: RedisServer, replica: RedisServer, sentinels: RedisServer[]) {
    this.master = master;
    this.replica = replica;
    this.sentinels = sentinels;
  }

  /** Starts the five processes and waits until every Sentinel knows the replica and its peers. */
  static async start(): Promise<SentinelSet> {
    const master = await RedisServer.start();
    const started: RedisServer[] = [master];
    try {
      const replica = await RedisServer.start({
        args: ["--replicaof", master.host, String(master.port)],
      });
      started.push(replica);
      const config = [
        `sentinel monitor mymaster ${master.host} ${master.port} 2`,
        "sentinel down-after-milliseconds mymaster 1000",
        "sentinel failover-timeout mymaster 3000",
        "sentinel parallel-syncs mymaster 1",
        "",
      ].join("\n");
      for (let i = 0; i < 3; i++) {
        started.push(
          await RedisServer.start({ config, appendOnly: false, args: ["--sentinel"] }),
        );
      }
      const set = new SentinelSet(master, replica, started.slice(2));
      await poll("the replica in sync", async () => {
        const info = String(await replica.command("INFO", "replication"));
        return info.includes("master_link_status:up");
      }, { timeoutMs: 15_000 });
      await poll("every Sentinel knowing the replica and two peers", async () => {
        for (const sentinel of set.sentinels) {
          const replicas = await sentinel.command("SENTINEL", "REPLICAS", "mymaster");
          const peers = await sentinel.command("SENTINEL", "SENTINELS", "mymaster");
          if ((replicas as RespValue[]).length < 1 || (peers as RespValue[]).length < 2) {
            return false;
          }
        }
        return true;
      }, { timeoutMs: 20_000 });
      return set;
    } catch (error) {
      await Promise.all(started.map((server) => server[Symbol.asyncDispose]()));
      throw error;
    }
  }

  /** `host:port,...` of the Sentinels, for `REDIS_SENTINELS`. */
  get env(): string {
    return this.sentinels.map((s) => `${s.host}:${s.port}`).join(",");
  }

  /** The port of the master the first Sentinel names now. */
  async masterPort(): Promise<number> {
    const reply = await this.sentinels[0].command(
      "SENTINEL",
      "GET-MASTER-ADDR-BY-NAME",
      "mymaster",
    ) as string[];
    return Number(reply[1]);
  }

  /** Stops every process and deletes their directories. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(
      [...this.sentinels, this.replica, this.master].map((s) => s[Symbol.asyncDispose]()),
    );
  }
}

/** A Redis Cluster of three masters (no replicas), slots split evenly. */
export class RedisClusterSet {
  /** The three nodes, in slot order. */
  readonly nodes: RedisServer[];

  private constructor(nodes: RedisServer[]) {
    this.nodes = nodes;
  }

  /**
   * Starts three `--cluster-enabled` servers, assigns slots and joins them
   * with CLUSTER MEET (what `redis-cli --cluster create` does), and waits
   * until every node reports `cluster_state:ok`.
   */
  static async start(): Promise<RedisClusterSet> {
    const nodes: RedisServer[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        nodes.push(
          await RedisServer.start({
            args: ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"],
          }),
        );
      }
      const ranges = [[0, 5460], [5461, 10922], [10923, 16383]];
      for (const [i, node] of nodes.entries()) {
        await node.command("CLUSTER", "ADDSLOTSRANGE", ...ranges[i].map(String));
        if (i > 0) await node.command("CLUSTER", "MEET", nodes[0].host, String(nodes[0].port));
      }
      const set = new RedisClusterSet(nodes);
      await set.waitUntilOk();
      return set;
    } catch (error) {
      await Promise.all(nodes.map((node) => node[Symbol.asyncDispose]()));
      throw error;
    }
  }

  /** `host:port,...` of the nodes, for `REDIS_CLUSTER_NODES`. */
  get env(): string {
    return this.nodes.map((n) => `${n.host}:${n.port}`).join(",");
  }

  /** The node serving `key`'s slot. */
  async nodeOf(key: string): Promise<RedisServer> {
    const slot = Number(await this.nodes[0].command("CLUSTER", "KEYSLOT", key));
    return this.nodes[slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2];
  }

  /** Waits until every node knows all three and reports `cluster_state:ok`. */
  async waitUntilOk(): Promise<void> {
    await poll("cluster_state:ok on every node", async () => {
      for (const node of this.nodes) {
        const info = String(await node.command("CLUSTER", "INFO"));
        if (!info.includes("cluster_state:ok") || !info.includes("cluster_known_nodes:3")) {
          return false;
        }
      }
      return true;
    }, { timeoutMs: 20_000 });
  }

  /** Stops every node and deletes their directories. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.nodes.map((node) => node[Symbol.asyncDispose]()));
  }
}
